// Speculative decoding on stories260K (real trained weights, software GPU), greedy: target F32, drafts its
// own Q8_0 and Q4_0 quantizations (our quantizer), n-grams, and drafts that are always right / always
// wrong; for k 1..16 and auto the tokens equal target-only greedy decoding exactly. The vocabulary check
// accepts the quantized drafts and refuses a foreign vocabulary with a typed error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureSynthetic } from '../helpers/testModels';
import { openGguf } from '../../src/loaders/gguf/reader';
import { Sequence } from '../../src/kvcache/sequence';
import { speculativeGenerate } from '../../src/engine/speculative';
import { ModelDraft, type DraftSource } from '../../src/engine/draft';
import { NgramDraft } from '../../src/engine/draftNgram';
import { ControlledDraft } from '../../src/engine/draftControlled';
import { checkDraftVocabulary, DraftVocabularyError } from '../../src/engine/draftVocab';
import { disposeStoriesAfterTests, plain, prompts, stories } from './speculativeStories';

disposeStoriesAfterTests();
test('vocabulary check: the quantized drafts share the target tokenizer; a foreign vocabulary is refused with a typed error', async () => {
  const m = await stories();
  for (const d of [m.q8_0, m.q4_0]) assert.ok(checkDraftVocabulary(m.f32.file.metadata, 512, d.file.metadata, 512).identity);
  const foreign = await openGguf(await ensureSynthetic('speculative-foreign-vocab', TINY));
  assert.throws(() => checkDraftVocabulary(m.f32.file.metadata, 512, foreign.metadata, TINY.vocabSize), DraftVocabularyError);
});

const TINY = { arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 256, ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes' } as const;

test('greedy: Q8_0/Q4_0 drafts, n-grams, always-right and always-wrong drafts, k 1..16 and auto: the target-only tokens exactly', async () => {
  const m = await stories();
  const allK: (number | 'auto')[] = [...Array.from({ length: 16 }, (_, i) => i + 1), 'auto'];
  const someK: (number | 'auto')[] = [1, 2, 4, 7, 16, 'auto'];
  const sources: [string, (ref: number[]) => DraftSource, (number | 'auto')[]][] = [
    ['Q8_0 draft', () => new ModelDraft(m.q8_0.model), allK],
    ['Q4_0 draft', () => new ModelDraft(m.q4_0.model), someK],
    ['Q4_0 draft, unsure stops', () => new ModelDraft(m.q4_0.model, { minConfidence: 0.5 }), [8]],
    ['n-gram', () => new NgramDraft(), allK],
    ['always right', (ref) => new ControlledDraft(ref, 1, { vocab: 512 }), someK],
    ['always wrong', (ref) => new ControlledDraft(ref, 0, { vocab: 512 }), someK],
  ];
  const acceptance = new Map<string, [number, number]>();
  for (const [pi, prompt] of prompts().entries()) {
    const N = [32, 40, 17, 32, 9, 24][pi];
    const base = await plain(m.f32, prompt, N);
    base.seq.clear();
    for (const [name, make, ks] of sources) {
      // Every k on the first prompt; two on each of the others (the suite's time).
      for (const k of pi === 0 ? ks : [ks[(pi * 5) % ks.length], ks[(pi * 5 + 3) % ks.length]]) {
        const seq = new Sequence(m.f32.pool);
        const r = await speculativeGenerate(m.f32.model, seq, prompt, { maxTokens: N, draft: make([...prompt, ...base.tokens]), draftLength: k });
        assert.deepEqual(r.tokens, base.tokens, `${name}, k=${k}, prompt ${pi}`);
        const [a, d] = acceptance.get(name) ?? [0, 0];
        acceptance.set(name, [a + r.stats.acceptedTokens, d + r.stats.draftedTokens]);
        seq.clear();
      }
    }
  }
  const rate = (name: string) => acceptance.get(name)![0] / acceptance.get(name)![1];
  assert.equal(rate('always right'), 1);
  assert.equal(rate('always wrong'), 0);
  assert.ok(rate('Q8_0 draft') > 0.8, `Q8_0 acceptance ${rate('Q8_0 draft')}`);
  assert.ok(rate('Q4_0 draft') > 0.5 && rate('Q4_0 draft') < 1, `Q4_0 acceptance ${rate('Q4_0 draft')}`);
});

