// Speculative decoding through runCompletion on stories260K (F32 target; draft: its Q8_0 quantization by
// our quantizer, n-grams, both): a document edited over several requests gets exactly the texts it gets
// with drafting off, while its prompt cache still reuses the unchanged start, and the draft model caches
// its own K/V per document: switching back to a document costs the draft the typed tokens, not the prompt. The engine server loads the draft with the target,
// reports speculative totals in its stats, and refuses a draft with another vocabulary (typed error).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, ensureSynthetic } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import type { LlamaModel } from '../../src/model/llama';
import { createTokenizer } from '../../src/tokenizer';
import { completionModel, runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest, CompletionResult, DraftMode } from '../../src/completion/types';
import { loadDraftModel } from '../../src/engine/draftLoad';
import { ModelDraft } from '../../src/engine/draft';
import { EngineServer } from '../../src/host/engine/server';
import type { EngineEvent } from '../../src/host/engine/protocol';

const OPTIONS = { maxContextTokens: 256, maxBatchTokens: 32 };
const opts: CompletionOptions = { maxTokens: 24, multiline: 'always', temperature: 0 };

/** One document's successive requests: typing on, a word replaced, text deleted. */
const EDITS = [
  'Once upon a time',
  'Once upon a time, there was a little',
  'Once upon a time, there was a little girl named Lily. She',
  'Once upon a time, there was a big dog named Lily. She',
  'Once upon a time, there was a big',
];
const req = (documentId: string | undefined, prefix: string): CompletionRequest => ({ documentId, prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });

let target: LlamaModel;
let draftModel: LlamaModel;
let cm: CompletionModel;

before(async () => {
  const gpu = await testGpu();
  const t = await loadModel(gpu, await ensureStories260K('f32'), OPTIONS);
  target = t.model;
  const d = await loadDraftModel(gpu, target, t.file, await ensureStories260K('q8_0'));
  draftModel = d.model;
  cm = completionModel(target, createTokenizer(t.file.metadata), {}, d.draft);
});

after(async () => {
  target?.dispose();
  draftModel?.dispose();
  const errors = (await testGpu()).takeErrors();
  if (errors.length) throw new Error(`GPU validation errors: ${errors.join('; ')}`);
});

async function session(documentId: string | undefined, o: CompletionOptions): Promise<CompletionResult[]> {
  const out: CompletionResult[] = [];
  for (const prefix of EDITS) out.push(await runCompletion(cm, req(documentId, prefix), o));
  return out;
}

test('with a documentId over successive edits, every draft source and length gives the texts of plain decoding', async () => {
  const plain = await session('story-off', opts);
  assert.ok(plain.every((r) => r.rawText.length > 0 && r.timings.speculative === undefined));
  const runs: [DraftMode, number | 'auto'][] = [['ngram', 'auto'], ['model', 'auto'], ['model', 4], ['model+ngram', 'auto'], ['ngram', 3]];
  for (const [draft, draftLength] of runs) {
    const got = await session(`story-${draft}-${draftLength}`, { ...opts, draft, draftLength });
    const what = `draft ${draft}, length ${draftLength}`;
    assert.deepEqual(got.map((r) => r.rawText), plain.map((r) => r.rawText), what);
    assert.deepEqual(got.map((r) => r.text), plain.map((r) => r.text), what);
    for (const [i, r] of got.entries()) {
      const s = r.timings.speculative;
      assert.ok(s, `${what}, edit ${i}: no speculative timings`);
      assert.equal(s.draft, draft, what);
      assert.ok(s.targetPasses > 0 && s.targetPasses <= r.timings.generatedTokens, `${what}, edit ${i}: ${JSON.stringify(s)}`);
      assert.ok(s.acceptedTokens <= s.draftedTokens, what);
      // The document's cache: after the first request, the unchanged start is not prefilled again.
      if (i > 0) assert.ok((r.timings.reusedTokens ?? 0) > 0, `${what}, edit ${i}: nothing reused`);
      // Probabilities come from the verify pass's rows; they match plain decoding's.
      const pp = plain[i].tokens!.probabilities;
      r.tokens!.probabilities.forEach((p, k) => assert.ok(Math.abs(p - pp[k]) <= 1e-4, `${what}, edit ${i}, token ${k}: p ${p} vs ${pp[k]}`));
    }
    const accepted = got.reduce((a, r) => a + r.timings.speculative!.acceptedTokens, 0);
    const drafted = got.reduce((a, r) => a + r.timings.speculative!.draftedTokens, 0);
    if (draft !== 'ngram') assert.ok(drafted > 0 && accepted / drafted > 0.8, `${what}: accepted ${accepted} of ${drafted}`);
  }
});

test('without a documentId, and with a draft model that is not loaded: the same texts ("model" decodes plainly, "model+ngram" uses n-grams)', async () => {
  const plain = await runCompletion(cm, req(undefined, EDITS[2]), opts);
  const spec = await runCompletion(cm, req(undefined, EDITS[2]), { ...opts, draft: 'model+ngram' });
  assert.equal(spec.rawText, plain.rawText);
  assert.equal(spec.timings.speculative?.draft, 'model+ngram');
  const noDraft: CompletionModel = { ...cm, draft: undefined };
  const model = await runCompletion(noDraft, req(undefined, EDITS[2]), { ...opts, draft: 'model' });
  assert.equal(model.rawText, plain.rawText);
  assert.equal(model.timings.speculative, undefined);
  const mixed = await runCompletion(noDraft, req(undefined, EDITS[2]), { ...opts, draft: 'model+ngram' });
  assert.equal(mixed.rawText, plain.rawText);
  assert.equal(mixed.timings.speculative?.draft, 'ngram');
});

test('the draft model caches per document: switching back costs it the new tokens, one draft sequence costs the whole prompt; texts unchanged', async () => {
  // Two lines each (~45 tokens): the whole text is the prompt, so its start stays put from request to request.
  const docs = {
    lily: 'Once upon a time, there was a little girl named Lily.\nShe liked to play in the park with her friends every day.',
    tom: 'One day, a boy named Tom went to the big forest.\nHe saw a bird and a tree and he was very happy.',
  };
  // A, B, then back to each with a word typed.
  const steps = [['lily', docs.lily], ['tom', docs.tom], ['lily', `${docs.lily}\nShe`], ['tom', `${docs.tom}\nHe`]] as const;
  // The same target cache (one pool per KV buffers); the draft: one sequence for every document.
  const oneSequence: CompletionModel = { ...cm, draft: new ModelDraft(draftModel, { prefixCache: false }) };
  const runs = new Map<string, CompletionResult[]>();
  for (const [label, m, o] of [['plain', cm, opts], ['cached', cm, { ...opts, draft: 'model', draftLength: 4 }], ['one sequence', oneSequence, { ...opts, draft: 'model', draftLength: 4 }]] as const) {
    const got: CompletionResult[] = [];
    for (const [doc, text] of steps) got.push(await runCompletion(m, req(`${label}-${doc}`, text), o));
    runs.set(label, got);
  }
  const [plain, cached, one] = ['plain', 'cached', 'one sequence'].map((l) => runs.get(l)!);
  for (const [i, [doc]] of steps.entries()) {
    assert.equal(cached[i].rawText, plain[i].rawText, `cached draft, step ${i} (${doc})`);
    assert.equal(one[i].rawText, plain[i].rawText, `one draft sequence, step ${i} (${doc})`);
    assert.ok(cached[i].timings.speculative!.draftedTokens > 0 && one[i].timings.speculative!.draftedTokens > 0, `step ${i}: drafted`);
  }
  const prefilled = (rs: CompletionResult[]) => rs.map((r) => r.timings.speculative!.draftPrefilledTokens);
  const [pc, po] = [prefilled(cached), prefilled(one)];
  const promptTokens = cached.map((r) => r.timings.promptTokens);
  // Within a request both catch up the same way (after each verify pass, the bonus token and the last
  // drafted one); coming back, one sequence also re-runs the whole prompt, the cache only the typed word.
  for (const i of [2, 3]) {
    assert.ok(po[i] - pc[i] >= promptTokens[i] - 8, `step ${i}: draft prefilled ${pc[i]} with the cache, ${po[i]} with one sequence, prompt ${promptTokens[i]} tokens`);
  }
  console.log(JSON.stringify({ name: 'draft prefilled tokens per request', cached: pc, oneSequence: po, promptTokens }));
  oneSequence.draft!.reset();
});

/** Sends `m` to the server and resolves with its final event for that id. */
function ask(server: EngineServer, events: EngineEvent[], m: Parameters<EngineServer['handle']>[0]): Promise<EngineEvent> {
  const seen = events.length;
  server.handle(m);
  return new Promise((resolve) => {
    const poll = () => {
      const e = events.slice(seen).find((x) => 'id' in x && x.id === m.id && x.type !== 'chunk' && x.type !== 'progress');
      if (e) resolve(e);
      else setImmediate(poll);
    };
    poll();
  });
}

test('engine server: loads the draft with the target, stats report acceptance; a draft of another vocabulary fails the load with DraftVocabularyError', async () => {
  const events: EngineEvent[] = [];
  const server = new EngineServer((e) => events.push(e));
  try {
    const modelPath = await ensureStories260K('f32');
    const draftPath = await ensureStories260K('q8_0');
    const loaded = await ask(server, events, { type: 'load', id: 1, params: { modelPath, maxContextTokens: 256, draftModelPath: draftPath } });
    assert.equal(loaded.type, 'loaded', JSON.stringify(loaded));
    assert.equal(loaded.type === 'loaded' && loaded.info.draft?.name, 'stories260K');
    const done = await ask(server, events, { type: 'complete', id: 2, request: req('doc', EDITS[1]), options: { ...opts, draft: 'model' } });
    assert.equal(done.type, 'completed', JSON.stringify(done));
    const plain = await runCompletion(cm, req(undefined, EDITS[1]), opts);
    assert.equal(done.type === 'completed' && done.result.rawText, plain.rawText);
    const stats = await ask(server, events, { type: 'stats', id: 3 });
    assert.ok(stats.type === 'stats' && stats.stats.speculative, JSON.stringify(stats));
    const s = stats.stats.speculative;
    assert.equal(s.requests, 1);
    assert.ok(s.draftedTokens > 0 && s.acceptanceRate > 0.8 && s.tokensPerPass > 1, JSON.stringify(s));
    assert.deepEqual(s.bySource, { model: 1 });
    // The draft model's own cache: one request, so its first proposal ran the prompt.
    assert.ok(s.draftCache && s.draftCache.prefilledTokens > 0 && s.draftCache.tokenHitRate >= 0 && s.draftCache.tokenHitRate < 1, JSON.stringify(s.draftCache));

    const foreign = await ensureSynthetic('speculative-foreign-vocab', TINY);
    const refused = await ask(server, events, { type: 'load', id: 4, params: { modelPath, maxContextTokens: 256, draftModelPath: foreign } });
    assert.equal(refused.type, 'error');
    assert.ok(refused.type === 'error' && refused.error.name === 'DraftVocabularyError' && refused.error.code === 'UNSUPPORTED_MODEL' && /same model family/.test(refused.error.hint ?? ''), JSON.stringify(refused));
  } finally {
    server.disposeAll();
  }
});

const TINY = { arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 256, ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes' } as const;
