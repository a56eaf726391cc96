// The typed middle through the whole pipeline (runCompletion, the document's prompt cache), on a model
// with Qwen2.5's real vocabulary and FIM tokens (random weights, real FIM layout): typing a line into a PSM
// prompt prefills a few tokens a keystroke, where the same typing without the typed middle re-prefills the
// suffix every time; and a request on the same line without a document (no cache, no kept anchor) builds
// the same prompt and gives the same greedy tokens.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { loadCompletionModel } from '../helpers/gpuModel';
import { ensureSynthetic } from '../helpers/testModels';

const qwenFim: SyntheticSpec = {
  arch: 'qwen2', nLayers: 1, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 151936, contextLength: 2048,
  ropeTheta: 1e6, tiedEmbedding: true, weightType: 'q8_0', seed: 5, tokenizer: 'qwen2',
};

let cm: CompletionModel;
let dispose: () => void;

before(async () => {
  ({ cm, dispose } = await loadCompletionModel(await ensureSynthetic('typed-middle-qwen2-q8_0', qwenFim), { maxContextTokens: 1024 }));
});
after(() => dispose?.());

const HEAD = Array.from({ length: 12 }, (_, i) => `export const limit${i} = compute(${i}, "unit${i}");\n`).join('') + 'function total(items) {\n';
const SUFFIX = '\n}\n' + Array.from({ length: 10 }, (_, i) => `console.log(total([${i}, ${i + 1}]));\n`).join('');
const LINE = '  let sum = 0; for (const x of items) sum += x;';
const opts = (typedMiddle: boolean): CompletionOptions => ({ maxTokens: 3, multiline: 'always', typedMiddle, prefixTokens: 400, suffixTokens: 200, contextFileTokens: 0 });
const at = (documentId: string | undefined, typed: number): CompletionRequest => ({ documentId, prefix: HEAD + LINE.slice(0, typed), suffix: SUFFIX, path: 'a.js', languageId: 'javascript' });

/** Prefilled tokens of each request while LINE is typed a character at a time (the first, cold request left out). */
async function typeLine(documentId: string, typedMiddle: boolean): Promise<number[]> {
  const prefilled: number[] = [];
  for (let n = 0; n <= LINE.length; n += 3) {
    const r = await runCompletion(cm, at(documentId, n), opts(typedMiddle));
    assert.equal(r.template, 'qwen2.5-coder');
    if (n > 0) prefilled.push(r.timings.promptTokens - (r.timings.reusedTokens ?? 0));
  }
  return prefilled;
}

test('typing a line into a Qwen PSM prompt: a few prefilled tokens a request with the typed middle, the whole suffix without', async () => {
  const suffixTokens = cm.tokenizer.encode(SUFFIX, { parseSpecial: false }).length;
  const on = await typeLine('file:///on.js', true);
  const off = await typeLine('file:///off.js', false);
  // Three characters typed a request: at most ~3 new tokens, plus the last one or two re-tokenized.
  assert.ok(Math.max(...on) <= 6, `typed middle: prefilled ${on.join(',')}`);
  assert.ok(Math.min(...off) >= suffixTokens, `without: prefilled ${off.join(',')} (suffix ${suffixTokens} tokens)`);
});

test('on one line the prompt does not depend on the history: with the cache and kept anchor, the same greedy tokens as a fresh request', async () => {
  const doc = 'file:///same.js';
  for (let n = 0; n <= LINE.length; n += 7) {
    const cached = await runCompletion(cm, at(doc, n), opts(true));
    const fresh = await runCompletion(cm, at(undefined, n), opts(true));
    assert.equal(cached.timings.promptTokens, fresh.timings.promptTokens);
    assert.deepEqual(cached.tokens?.ids, fresh.tokens?.ids, `after ${n} characters`);
  }
});
