// Pipelined greedy decoding (GreedyStream, generate's pipelineDepth): passes in flight, each fed the
// previous argmax on the GPU, must give what one pass at a time gives: the same tokens and probabilities,
// the same sequence length after every kind of stop (max tokens, a stop token, the callback, a cancel, the
// end of the context), and K/V that give the next pass the same logits bit for bit; the passes run past a
// stop are discarded and counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError, OutOfMemoryError } from '../../src/common/errors';
import { generate, type GenerateOptions, type GenerateResult } from '../../src/engine/generate';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel } from '../../src/model/llama';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { GPU_KERNELS, testGpu, withModel } from '../helpers/gpuModel';
import { ensureStories260K, ensureSynthetic, stories260KGolden } from '../helpers/testModels';

interface Outcome {
  result?: GenerateResult;
  error?: unknown;
  tokens: number[];
  probs: number[];
  seqLength: number;
  /** Logits of one more pass after the generation (on NEXT_TOKEN): it reads every kept position. */
  nextLogits: Float32Array;
}

/** Fed after a generation to read its K/V back through attention (any token does: both runs get the same). */
const NEXT_TOKEN = 42;

/** generate() at `depth`; `stopAfter`: the callback stops after that many tokens. */
async function run(model: LlamaModel, prompt: number[], depth: number, o: Partial<GenerateOptions> & { stopAfter?: number; abortAfter?: number; poolBlocks?: number }): Promise<Outcome> {
  const pool = new BlockPool(o.poolBlocks ?? model.kv.nBlocks, model.options.blockSize);
  const seq = new Sequence(pool);
  const tokens: number[] = [];
  const probs: number[] = [];
  const abort = new AbortController();
  let result: GenerateResult | undefined;
  let error: unknown;
  try {
    result = await generate(model, seq, prompt, {
      maxTokens: o.maxTokens ?? 40, stopTokens: o.stopTokens, pipelineDepth: depth, signal: abort.signal,
      onToken: (id, p) => {
        tokens.push(id);
        probs.push(p);
        if (tokens.length === o.abortAfter) abort.abort();
        return tokens.length !== o.stopAfter;
      },
    });
  } catch (e) {
    error = e;
  }
  const seqLength = seq.length;
  let nextLogits: Float32Array = new Float32Array(0);
  // (A full pool has no room for it.)
  if (seq.length < model.options.maxContextTokens && o.poolBlocks === undefined) {
    nextLogits = (await model.forward({ tokens: [NEXT_TOKEN], seq, logitRows: 1, wantLogits: true })).logits!;
  }
  seq.clear();
  assert.equal(pool.usedBlocks, 0, 'every block is free again');
  return { result, error, tokens, probs, seqLength, nextLogits };
}

function assertSame(a: Outcome, b: Outcome, what: string): void {
  assert.deepEqual(b.tokens, a.tokens, `${what}: tokens`);
  assert.deepEqual(b.probs, a.probs, `${what}: probabilities`);
  assert.equal(b.seqLength, a.seqLength, `${what}: positions kept`);
  assert.ok(a.nextLogits.length > 0, `${what}: the reference left room for another pass`);
  assert.deepEqual(b.nextLogits, a.nextLogits, `${what}: the next pass's logits`);
  assert.equal(b.result?.stoppedBy, a.result?.stoppedBy, `${what}: stop reason`);
  assert.equal(b.result?.decodePasses, a.result?.decodePasses, `${what}: passes used`);
  assert.equal(b.error?.constructor, a.error?.constructor, `${what}: error`);
}

const DEPTHS = [2, 3, 8];

test('stories260K: pipelined greedy decoding at depth 2, 3 and 8 gives the 200 golden tokens, with no pass run past max tokens', async () => {
  const golden = stories260KGolden();
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 256 }, async (model, gpu) => {
    const one = await run(model, golden.prompt, 1, { maxTokens: golden.greedy_tokens.length });
    assert.deepEqual(one.tokens, golden.greedy_tokens);
    for (const depth of DEPTHS) {
      const d = await run(model, golden.prompt, depth, { maxTokens: golden.greedy_tokens.length });
      assertSame(one, d, `depth ${depth}`);
      assert.equal(d.result!.discardedPasses, 0, 'the stream stops at the token budget');
    }
    assert.deepEqual(gpu.takeErrors(), []);
  });
});

test('stories260K (GPU kernels): a stop by the callback or a stop token keeps only the positions used; the passes ahead are discarded', async () => {
  const golden = stories260KGolden();
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 256, ...GPU_KERNELS }, async (model, gpu) => {
    for (const stopAfter of [1, 2, 3, 9, 16, 17]) {
      const one = await run(model, golden.prompt, 1, { stopAfter });
      assert.equal(one.tokens.length, stopAfter);
      for (const depth of DEPTHS) {
        const d = await run(model, golden.prompt, depth, { stopAfter });
        assertSame(one, d, `callback stop after ${stopAfter}, depth ${depth}`);
        // The stream has depth passes in flight when a token is read, one of them the one just used.
        const expected = stopAfter === 1 ? 0 : Math.min(depth - 1, 39 - (stopAfter - 1));
        assert.equal(d.result!.discardedPasses, expected, `discarded passes, stop after ${stopAfter}, depth ${depth}`);
      }
    }
    const stopTokens = new Set([golden.greedy_tokens[12]]);
    const one = await run(model, golden.prompt, 1, { stopTokens });
    assert.ok(one.tokens.length <= 12);
    for (const depth of DEPTHS) assertSame(one, await run(model, golden.prompt, depth, { stopTokens }), `stop token, depth ${depth}`);
    assert.deepEqual(gpu.takeErrors(), []);
  });
});

test('stories260K: a cancel mid-stream throws CancelledError at once, and the sequence keeps only the positions used', async () => {
  const golden = stories260KGolden();
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 256 }, async (model, gpu) => {
    for (const abortAfter of [1, 4]) {
      const one = await run(model, golden.prompt, 1, { abortAfter });
      assert.ok(one.error instanceof CancelledError);
      for (const depth of DEPTHS) {
        const d = await run(model, golden.prompt, depth, { abortAfter });
        assert.ok(d.error instanceof CancelledError, `depth ${depth}: ${String(d.error)}`);
        assert.deepEqual(d.tokens, one.tokens);
        assert.equal(d.seqLength, one.seqLength);
        assert.deepEqual(d.nextLogits, one.nextLogits);
      }
    }
    assert.deepEqual(gpu.takeErrors(), []);
  });
});

test('stories260K: at the end of the context or of the pool the pipelined loop yields the same tokens and the same OutOfMemoryError', async () => {
  const golden = stories260KGolden();
  // The prompt (1 token) and 30 more positions: the 31st decode pass is refused.
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 32 }, async (model, gpu) => {
    const one = await run(model, golden.prompt, 1, { maxTokens: 60 });
    assert.ok(one.error instanceof OutOfMemoryError, String(one.error));
    for (const depth of DEPTHS) {
      const d = await run(model, golden.prompt, depth, { maxTokens: 60 });
      assert.ok(d.error instanceof OutOfMemoryError, `depth ${depth}: ${String(d.error)}`);
      assert.deepEqual(d.tokens, one.tokens);
      assert.equal(d.seqLength, one.seqLength);
    }
    assert.deepEqual(gpu.takeErrors(), []);
  });
  // A pool of 2 blocks (32 positions) in a larger context: the pass that needs a third block is refused
  // ahead of time by the stream, and the refusal surfaces after the passes before it, as it does one pass
  // at a time.
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 256 }, async (model, gpu) => {
    const one = await run(model, golden.prompt, 1, { maxTokens: 60, poolBlocks: 2 });
    assert.ok(one.error instanceof OutOfMemoryError, String(one.error));
    assert.equal(one.seqLength, 32);
    for (const depth of DEPTHS) {
      const d = await run(model, golden.prompt, depth, { maxTokens: 60, poolBlocks: 2 });
      assert.ok(d.error instanceof OutOfMemoryError, `depth ${depth}: ${String(d.error)}`);
      assert.deepEqual(d.tokens, one.tokens);
      assert.equal(d.seqLength, one.seqLength);
    }
    assert.deepEqual(gpu.takeErrors(), []);
  });
});

const WINDOW_SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 512,
  ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 24, tokenizer: 'spm-bytes', slidingWindow: 24, outputScale: 8,
};

test('a sliding-window model (window 24) releasing blocks as the stream runs: the same tokens and K/V as one pass at a time, stopped past the window', async () => {
  const path = await ensureSynthetic('greedy-stream-window', WINDOW_SPEC);
  await withModel(path, { maxContextTokens: 256, blockSize: 16 }, async (model) => {
    const prompt = [1, 40, 41, 42, 43];
    for (const stopAfter of [50, 61]) {
      const one = await run(model, prompt, 1, { stopAfter, maxTokens: 80 });
      for (const depth of [2, 8]) assertSame(one, await run(model, prompt, depth, { stopAfter, maxTokens: 80 }), `window, stop after ${stopAfter}, depth ${depth}`);
    }
  });
  assert.deepEqual((await testGpu()).takeErrors(), []);
});
