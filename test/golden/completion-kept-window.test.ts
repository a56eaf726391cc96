// The prefix window of a document's prompt keeps its start from request to request (the pipeline's
// per-document memory, completion/window.ts): on stories260K, typing line after line re-prefills only the
// typed tokens until the window has grown to PREFIX_WINDOW_GROWTH x its budget, and coming back from a
// jump finds the window (and the K/V) from before it, by its text where lines were typed above it. The same typing with the memory cleared before
// every request, as the pipeline was before, restarts the window far more often.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fitBudgets, runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest, CompletionResult } from '../../src/completion/types';
import { PREFIX_WINDOW_GROWTH } from '../../src/completion/window';
import { loadCompletionModel } from '../helpers/gpuModel';
import { ensureStories260K } from '../helpers/testModels';

let cm: CompletionModel;
let dispose: () => void;

before(async () => {
  ({ cm, dispose } = await loadCompletionModel(await ensureStories260K('f32'), { maxContextTokens: 512 }));
});
after(() => dispose?.());

const opts: CompletionOptions = { maxTokens: 4, multiline: 'always', template: 'prefix-only', prefixTokens: 96, suffixTokens: 0, contextFileTokens: 0 };
const LINES = Array.from({ length: 120 }, (_, i) => `Tom had ${i} red balls and Sue had ${i + 1}.\n`);
const at = (documentId: string, lines: number): CompletionRequest => ({ documentId, prefix: LINES.slice(0, lines).join(''), suffix: '', path: 'story.txt', languageId: 'plaintext' });

/** Requests at the end of line 40, 41, ..., 40 + n; a restart is a request that prefilled more than its typed line and a few tokens. */
async function typeLines(documentId: string, n: number, forget: boolean): Promise<{ results: CompletionResult[]; restarts: number; typedTokens: number }> {
  const results: CompletionResult[] = [];
  let restarts = 0;
  let typedTokens = 0;
  for (let l = 40; l <= 40 + n; l++) {
    if (forget) cm.prefixStarts.forget(documentId);
    const r = await runCompletion(cm, at(documentId, l), opts);
    if (l > 40) {
      const line = cm.tokenizer.encode(LINES[l - 1], { parseSpecial: false }).length;
      typedTokens += line;
      const prefilled = r.timings.promptTokens - (r.timings.reusedTokens ?? 0);
      if (prefilled > line + 4) restarts++;
    }
    results.push(r);
  }
  return { results, restarts, typedTokens };
}

test('typing keeps the window start: restarts only when the window outgrows PREFIX_WINDOW_GROWTH x the budget; fewer than with the memory cleared', async () => {
  const budget = fitBudgets({ prefixTokens: 96, suffixTokens: 0, contextFileTokens: 0 }, 512, 4, PREFIX_WINDOW_GROWTH).prefixTokens;
  const kept = await typeLines('file:///kept.txt', 60, false);
  const cleared = await typeLines('file:///cleared.txt', 60, true);
  // A new window holds at least half the budget (prefixWindow's anchor rule): the next restart comes after
  // at least (growth - 1/2) x budget typed tokens.
  const bound = Math.ceil(kept.typedTokens / ((PREFIX_WINDOW_GROWTH - 0.5) * budget)) + 1;
  assert.ok(kept.restarts >= 1 && kept.restarts <= bound, `${kept.restarts} restarts for ${kept.typedTokens} typed tokens (budget ${budget}, at most ${bound})`);
  assert.ok(cleared.restarts >= 2 * kept.restarts, `memory cleared: ${cleared.restarts} restarts, kept: ${kept.restarts}`);
  const largest = Math.max(...kept.results.map((r) => r.timings.promptTokens));
  console.log(JSON.stringify({ name: 'window restarts while typing 60 lines', value: kept.restarts, unit: 'restarts', cleared: cleared.restarts, typedTokens: kept.typedTokens, budget, largestPrompt: largest }));
  assert.ok(largest > 1.5 * budget && largest <= PREFIX_WINDOW_GROWTH * budget + 1, `prompts grew to ${largest} tokens (budget ${budget})`);
});

test('back from a jump, the window from before it is kept and its K/V reused', async () => {
  const doc = 'file:///jump.txt';
  await typeLines(doc, 6, false);
  const before = await runCompletion(cm, at(doc, 47), opts);
  const away = await runCompletion(cm, at(doc, 8), opts);
  assert.ok((away.timings.reusedTokens ?? 0) < away.timings.promptTokens / 2, `the jump reused ${away.timings.reusedTokens} of ${away.timings.promptTokens}`);
  const back = await runCompletion(cm, at(doc, 47), opts);
  assert.equal(back.timings.promptTokens, before.timings.promptTokens, 'the same window as before the jump');
  // Every full block from the prefix index (the partial last one went with the document's sequence).
  assert.ok((back.timings.reusedTokens ?? 0) >= back.timings.promptTokens - 16 - 1, `reused ${back.timings.reusedTokens} of ${back.timings.promptTokens}`);
  assert.equal(back.text, before.text);
});

test('back from a jump where a line was typed above the window: the window is found by its text, one line down, and its K/V reused', async () => {
  const doc = 'file:///jump-edit.txt';
  await typeLines(doc, 6, false);
  const before = await runCompletion(cm, at(doc, 47), opts);
  // Away at line 8, a line typed there: every line below it, the kept window's included, moves down by one.
  const edited = [...LINES.slice(0, 8), 'A note.\n', ...LINES.slice(8)];
  const atEdited = (lines: number): CompletionRequest => ({ ...at(doc, 0), prefix: edited.slice(0, lines).join('') });
  await runCompletion(cm, atEdited(9), opts);
  const back = await runCompletion(cm, atEdited(48), opts);
  assert.equal(back.timings.promptTokens, before.timings.promptTokens, 'the same window as before the jump');
  assert.ok((back.timings.reusedTokens ?? 0) >= back.timings.promptTokens - 16 - 1, `reused ${back.timings.reusedTokens} of ${back.timings.promptTokens}`);
  assert.equal(back.text, before.text);
});
