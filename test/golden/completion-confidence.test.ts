// Confidence trimming on stories260K (real trained weights) through runCompletion: the probability the
// engine reports for each greedy token equals a float64 softmax of the logits the model returns for that
// position, and a threshold between the smallest and largest of them cuts the suggestion exactly where
// the first token under it began; a threshold above the first token's probability shows nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import type { LlamaModel } from '../../src/model/llama';
import { createTokenizer } from '../../src/tokenizer';
import { completionModel, fitBudgets, runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import { buildPrompt, DEFAULT_BUDGETS } from '../../src/completion/prompt';
import { chooseTemplate } from '../../src/completion/templates';
import type { CompletionOptions, CompletionRequest, CompletionResult } from '../../src/completion/types';
import { Sequence } from '../../src/kvcache/sequence';
import { prefill } from '../../src/engine/generate';
import { tokenProbability } from '../../src/engine/sampler';

const story: CompletionRequest = { prefix: 'Once upon a time, there was a little girl named', suffix: '', path: 'story.txt', languageId: 'plaintext' };
const opts: CompletionOptions = { maxTokens: 24, multiline: 'always', temperature: 0 };

let model: LlamaModel;
let cm: CompletionModel;
let full: CompletionResult;

before(async () => {
  const { model: m, file } = await loadModel(await testGpu(), await ensureStories260K('f32'), { maxContextTokens: 256, maxBatchTokens: 32 });
  model = m;
  cm = completionModel(model, createTokenizer(file.metadata));
  full = await runCompletion(cm, story, { ...opts, minTokenProbability: 0 });
});

after(async () => {
  model?.dispose();
  const errors = (await testGpu()).takeErrors();
  if (errors.length) throw new Error(`GPU validation errors: ${errors.join('; ')}`);
});

test('each reported token probability equals a float64 softmax of the logits the model returns (first 4 tokens, 1e-4)', async () => {
  const { template } = chooseTemplate(cm.tokenizer, cm.name, 'auto');
  const prompt = buildPrompt(cm.tokenizer, template, story, fitBudgets(DEFAULT_BUDGETS, model.options.maxContextTokens, opts.maxTokens)).tokens;
  const ids = full.tokens!.ids;
  const k = 3;
  assert.ok(ids.length > k, `only ${ids.length} tokens`);
  // Rows for the last prompt position and ids[0..k): the distributions of ids[0..k].
  const seq = new Sequence(cm.pool);
  try {
    await prefill(model, seq, prompt.slice(0, -1), false);
    const r = await model.forward({ tokens: [prompt[prompt.length - 1], ...ids.slice(0, k)], seq, logitRows: k + 1, wantLogits: true });
    const V = model.config.vocabSize;
    for (let i = 0; i <= k; i++) {
      const want = tokenProbability(r.logits!.subarray(i * V, (i + 1) * V), ids[i]);
      const got = full.tokens!.probabilities[i];
      assert.ok(Math.abs(got - want) <= 1e-4, `token ${i} (${ids[i]}): reported p ${got}, softmax of the logits ${want}`);
    }
  } finally {
    seq.clear();
  }
});

/** The first token whose probability is under `t` (where the suggestion must end), or -1. */
function firstBelow(probs: number[], t: number): number {
  return probs.findIndex((p) => p < t);
}

test('a threshold between the smallest and largest token probability cuts the text where the first token under it began', async () => {
  const probs = full.tokens!.probabilities;
  const offsets = full.tokens!.offsets;
  const lo = Math.min(...probs);
  const hi = Math.max(...probs);
  assert.ok(hi - lo > 0.05, `probabilities ${probs.join(', ')}`);
  // The midpoint, and one just above the least likely later token (a cut after some text).
  const j = probs.indexOf(Math.min(...probs.slice(1)), 1);
  const thresholds = [(lo + hi) / 2, probs[j] + 1e-3];
  let cutAfterText = false;
  for (const t of thresholds) {
    const cut = firstBelow(probs, t);
    assert.ok(cut >= 0);
    const r = await runCompletion(cm, story, { ...opts, minTokenProbability: t });
    const what = `threshold ${t}, first token under it #${cut} (p ${probs[cut]})`;
    assert.equal(r.stoppedBy, 'lowConfidence', what);
    assert.equal(r.lowConfidence?.tokenIndex, cut, what);
    assert.ok(Math.abs(r.lowConfidence!.probability - probs[cut]) <= 1e-6, what);
    assert.equal(r.rawText, full.rawText.slice(0, offsets[cut]), what);
    assert.deepEqual(r.tokens!.ids, full.tokens!.ids.slice(0, cut + 1), what);
    if (r.rawText.trim() === '') assert.equal(r.text, '', what);
    else {
      cutAfterText = true;
      assert.ok(r.text.trim().length > 0 && full.rawText.startsWith(r.text.trimEnd()), `${what}: text ${JSON.stringify(r.text)}`);
    }
  }
  assert.ok(cutAfterText, 'no threshold cut after some text');
});

test('a threshold above the first token\'s probability shows nothing; 0 and one under every probability cut nothing', async () => {
  const probs = full.tokens!.probabilities;
  const none = await runCompletion(cm, story, { ...opts, minTokenProbability: Math.min(1, probs[0] * 1.01 + 1e-6) });
  assert.equal(none.stoppedBy, 'lowConfidence');
  assert.equal(none.text, '');
  assert.equal(none.rawText, '');
  const all = await runCompletion(cm, story, { ...opts, minTokenProbability: Math.min(...probs) / 2 });
  assert.notEqual(all.stoppedBy, 'lowConfidence');
  assert.equal(all.text, full.text);
  assert.ok(full.text.length > 0 && full.stoppedBy !== 'lowConfidence');
});
