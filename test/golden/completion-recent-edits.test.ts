// N-gram drafts from text the user deleted, end to end on stories260K through runCompletion: a line is
// deleted, then its start typed again; the engine found the deleted line by comparing the requests'
// windows (src/completion/recentEdits.ts) and the n-gram draft copies its rest. The line is the model's
// own greedy continuation, so the drafts are what the model writes: with the deleted text remembered
// the target accepts them, without it (the document's history forgotten) it cannot. The completion text
// is the same either way.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K } from '../helpers/testModels';
import { loadCompletionModel } from '../helpers/gpuModel';
import { runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';

let cm: CompletionModel;
let dispose: () => void;

before(async () => {
  ({ cm, dispose } = await loadCompletionModel(await ensureStories260K('f32'), { maxContextTokens: 256 }));
});
after(() => dispose?.());

const opts: CompletionOptions = { maxTokens: 24, multiline: 'never', temperature: 0 };
const req = (documentId: string | undefined, prefix: string): CompletionRequest => ({ documentId, prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });

test('a deleted line typed again: n-gram drafts copy its rest from the deleted text, the text is unchanged', async () => {
  const opening = 'Once upon a time, there was a little girl named Lily.\n';
  // The line the model would write after "She", then deleted by the user.
  const continuation = (await runCompletion(cm, req(undefined, `${opening}She`), opts)).rawText.split('\n')[0];
  const firstWord = continuation.indexOf(' ', 1);
  assert.ok(firstWord > 0 && continuation.length > firstWord + 12, `continuation "${continuation}"`);
  const line = `She${continuation}`;
  const retyped = `${opening}She${continuation.slice(0, firstWord)}`;

  const results = new Map<string, Awaited<ReturnType<typeof runCompletion>>>();
  for (const remember of [true, false]) {
    const doc = `story-${remember}`;
    await runCompletion(cm, req(doc, `${opening}${line}\n`), opts);
    await runCompletion(cm, req(doc, opening), opts); // the line deleted
    if (!remember) cm.recentEdits.forget(doc);
    results.set(String(remember), await runCompletion(cm, req(doc, retyped), { ...opts, draft: 'ngram', draftLength: 8 }));
  }
  const [withDeleted, without] = [results.get('true')!, results.get('false')!];
  assert.equal(withDeleted.rawText, without.rawText);
  const plain = await runCompletion(cm, req(undefined, retyped), opts);
  assert.equal(withDeleted.rawText, plain.rawText);
  const [w, o] = [withDeleted.timings.speculative!, without.timings.speculative!];
  console.log(JSON.stringify({ name: 'n-gram drafts after a deleted line is typed again', deleted: line, withDeleted: { accepted: w.acceptedTokens, drafted: w.draftedTokens, targetPasses: w.targetPasses }, without: { accepted: o.acceptedTokens, drafted: o.draftedTokens, targetPasses: o.targetPasses }, generated: withDeleted.timings.generatedTokens }));
  assert.ok(w.acceptedTokens >= o.acceptedTokens + 4, `accepted ${w.acceptedTokens} with the deleted text, ${o.acceptedTokens} without`);
  assert.ok(w.targetPasses < o.targetPasses, `target passes ${w.targetPasses} with the deleted text, ${o.targetPasses} without`);
});
