// Speculative decoding's plain runs: where drafting does not pay (k = 0), a greedy request decodes plain,
// pipelined (GreedyStream), until the next probe of the draft. Against the same request on a model that
// runs one pass at a time (pipeline depth 1): the same tokens, the same kept positions after any stop, the
// same next logits; and the controller prices k = 0 at the plain runs' cost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlledDraft } from '../../src/engine/draftControlled';
import { PROBE_EVERY } from '../../src/engine/draftLength';
import { generate } from '../../src/engine/generate';
import { speculativeGenerate, type SpeculativeResult } from '../../src/engine/speculative';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel } from '../../src/model/llama';
import { withModel } from '../helpers/gpuModel';
import { ensureStories260K, stories260KGolden } from '../helpers/testModels';

const N = 80;

async function run(model: LlamaModel, prompt: number[], reference: number[], stopAfter?: number, stopToken?: number) {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const seq = new Sequence(pool);
  let seen = 0;
  const r: SpeculativeResult = await speculativeGenerate(model, seq, prompt, {
    maxTokens: N, draftLength: 'auto', draft: new ControlledDraft(reference, 0, { vocab: model.config.vocabSize }),
    stopTokens: stopToken === undefined ? undefined : new Set([stopToken]),
    onToken: () => ++seen !== stopAfter,
  });
  const seqLength = seq.length;
  const next = await model.forward({ tokens: [42], seq, logitRows: 1, wantLogits: true });
  seq.clear();
  assert.equal(pool.usedBlocks, 0);
  return { r, seqLength, nextLogits: next.logits! };
}

test('an always-wrong draft (k = 0 after three passes): plain pipelined runs give the tokens, positions and K/V of one pass at a time, after every kind of stop', async () => {
  const golden = stories260KGolden();
  const path = await ensureStories260K('f32');
  await withModel(path, { maxContextTokens: 256, decodePipelineDepth: 1 }, async (single) => {
    await withModel(path, { maxContextTokens: 256 }, async (pipelined) => {
      assert.equal(pipelined.pipelineDepth, 2);
      const plain = await generate(single, new Sequence(new BlockPool(single.kv.nBlocks, single.options.blockSize)), golden.prompt, { maxTokens: N });
      const reference = [...golden.prompt, ...plain.tokens];
      const cases: [string, number | undefined, number | undefined][] = [
        ['max tokens', undefined, undefined],
        ...[3, 9, 10, 17, 33].map((j): [string, number, undefined] => [`callback stop after ${j}`, j, undefined]),
        ['stop token', undefined, plain.tokens[21]],
      ];
      for (const [what, stopAfter, stopToken] of cases) {
        const a = await run(single, golden.prompt, reference, stopAfter, stopToken);
        const b = await run(pipelined, golden.prompt, reference, stopAfter, stopToken);
        assert.deepEqual(b.r.tokens, a.r.tokens, `${what}: tokens`);
        assert.deepEqual(b.r.tokens, plain.tokens.slice(0, b.r.tokens.length), `${what}: the target's own tokens`);
        assert.equal(b.r.stoppedBy, a.r.stoppedBy, what);
        assert.equal(b.seqLength, a.seqLength, `${what}: positions kept`);
        assert.deepEqual(b.nextLogits, a.nextLogits, `${what}: next logits`);
        assert.equal(a.r.stats.plainTokens, 0, 'depth 1: no plain runs');
        // Three drafting passes, then a plain run (cut short by an early stop).
        if (b.r.tokens.length > 3) assert.ok(b.r.stats.plainTokens > 0, `${what}: plain runs ${JSON.stringify(b.r.stats)}`);
      }
      const full = await run(pipelined, golden.prompt, reference);
      assert.equal(full.r.tokens.length, N);
      assert.equal(full.r.stats.acceptedTokens, 0);
      assert.equal(full.r.stats.targetPasses, N, 'an always-wrong draft: a target pass a token');
      // Three drafting passes while nothing is measured, then k = 0 tried: a plain run of PROBE_EVERY
      // tokens. What follows depends on measured times (the probe schedule is tested in
      // test/unit/speculative-parts.test.ts with given costs).
      const lengths = full.r.stats.draftLengths;
      assert.deepEqual(lengths.slice(0, 3 + PROBE_EVERY), [4, 4, 4, ...Array(PROBE_EVERY).fill(0)], `${lengths}`);
      assert.ok(full.r.stats.plainTokens >= PROBE_EVERY);
    });
  });
});
