// A verify pass's rows are decode steps, bit for bit, on the GPU kernels too (run here on the software
// adapter with them forced: the split-K matvec, attention split every 16 keys). A batch of up to 32
// tokens runs each row as decode does: the split-K batch matvec (the one-token matvec's sums), attention
// split over its keys as decode splits them (empty splits past a query's keys), rmsnorm in the fused
// matvec's order. So speculative decoding gives plain decoding's tokens on a GPU exactly, not just up to
// rounding. Before this was so, rows differed by up to 8e-6 (ops/rmsnorm and attention splits).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NgramDraft } from '../../src/engine/draftNgram';
import { generate } from '../../src/engine/generate';
import { speculativeGenerate } from '../../src/engine/speculative';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel, ModelRuntimeOptions } from '../../src/model/llama';
import { GPU_KERNELS, withModel } from '../helpers/gpuModel';
import { ensureSlidingWindow24, ensureStories260K, ensureSynthetic } from '../helpers/testModels';
import type { SyntheticSpec } from '../../src/tools/synthesize';

/** Elements of a and b whose bits differ, and the largest difference. */
function differences(a: Float32Array, b: Float32Array): { count: number; max: number } {
  let count = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) count++;
    max = Math.max(max, Math.abs(a[i] - b[i]));
  }
  return { count, max };
}

/**
 * After `prompt`, feeds `extra` as one verify pass (a logit row each) and as single decode passes; each
 * row's logits must be equal bit for bit, and so must the next step's from either sequence (their K/V).
 */
async function compareVerify(model: LlamaModel, prompt: number[], extra: number[]): Promise<void> {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const stepwise = new Sequence(pool);
  const batched = new Sequence(pool);
  for (const seq of [stepwise, batched]) await model.forward({ tokens: prompt, seq, logitRows: 1, wantLogits: false });
  const V = model.config.vocabSize;
  const verify = (await model.forward({ tokens: extra, seq: batched, logitRows: extra.length, wantLogits: true })).logits!;
  for (const [i, t] of extra.entries()) {
    const step = (await model.forward({ tokens: [t], seq: stepwise, logitRows: 1, wantLogits: true })).logits!;
    const d = differences(verify.subarray(i * V, (i + 1) * V), step);
    assert.equal(d.count, 0, `prompt ${prompt.length}, row ${i} (position ${prompt.length + i}): ${d.count} of ${V} logits differ, by up to ${d.max}`);
  }
  const next = 7;
  const a = await model.forward({ tokens: [next], seq: stepwise, logitRows: 1, wantLogits: true });
  const b = await model.forward({ tokens: [next], seq: batched, logitRows: 1, wantLogits: true });
  assert.equal(differences(a.logits!, b.logits!).count, 0, 'the next step reads equal K/V');
  stepwise.clear();
  batched.clear();
  assert.equal(pool.usedBlocks, 0);
}

const PROMPT = Array.from({ length: 60 }, (_, i) => 3 + ((i * 37) % 300));
// A verify pass whose rows see 1 and 2 splits (positions 14..18, 16 keys a split), one whose rows see 3 and
// 4 (45..61), and the longest draft's (16 + 1 rows).
const CASES = [{ prompt: 14, extra: 5 }, { prompt: 45, extra: 17 }];

/** 4 heads of 64 on d 128 (q 256 wide), q/k head norms. */
const QWEN3_SPEC: SyntheticSpec = {
  arch: 'qwen3', nLayers: 2, dModel: 128, nHeads: 4, nKvHeads: 2, headDim: 64, ffnDim: 256, vocabSize: 320, contextLength: 512,
  ropeTheta: 1e6, tiedEmbedding: false, weightType: 'f32', seed: 30, tokenizer: 'spm-bytes', outputScale: 8,
};

/** qwen3 with 8 experts of 96 per layer, 2 a token. */
const QWEN3MOE_SPEC: SyntheticSpec = { ...QWEN3_SPEC, arch: 'qwen3moe', experts: { count: 8, used: 2, ffnDim: 96 }, seed: 35 };

const MODELS: { name: string; path: () => Promise<string>; options: Partial<ModelRuntimeOptions> }[] = [
  { name: 'stories260K F32', path: () => ensureStories260K('f32'), options: {} },
  { name: 'stories260K Q8_0, f16 cache', path: () => ensureStories260K('q8_0'), options: { kvType: 'f16' } },
  { name: 'sliding window 24', path: ensureSlidingWindow24, options: {} },
  // q/k head norms, and q (4 heads of 64) twice as wide as d: the output projection merges split attention from 256 columns.
  { name: 'qwen3 F32', path: () => ensureSynthetic('verify-qwen3', QWEN3_SPEC), options: {} },
  // LayerNorm, GELU and biases everywhere: each per row, so a verify row is a decode step too.
  { name: 'starcoder2 F32', path: () => ensureSynthetic('verify-starcoder2', { ...QWEN3_SPEC, arch: 'starcoder2', headDim: undefined, seed: 31 }), options: {} },
  // A learned position row added to each token's (no rope), a fused qkv with its bias, one KV head.
  { name: 'starcoder F32', path: () => ensureSynthetic('verify-starcoder', { ...QWEN3_SPEC, arch: 'starcoder', headDim: undefined, nKvHeads: 1, seed: 37 }), options: {} },
  // One fused qkv with its bias, one ffn_up of [gate | up], rope on adjacent pairs of half of each head.
  { name: 'chatglm F32', path: () => ensureSynthetic('verify-chatglm', { ...QWEN3_SPEC, arch: 'chatglm', headDim: undefined, nRot: 16, seed: 43 }), options: {} },
  // Attention and FFN side by side on one LayerNorm's output, partial NeoX rope, a bias on the output head.
  { name: 'phi2 F32', path: () => ensureSynthetic('verify-phi2', { ...QWEN3_SPEC, arch: 'phi2', headDim: undefined, nRot: 16, seed: 42 }), options: {} },
  // ALiBi (no rope): each head's slope times the distance, in decode and in every verify row.
  { name: 'refact F32', path: () => ensureSynthetic('verify-refact', { ...QWEN3_SPEC, arch: 'refact', headDim: undefined, nKvHeads: 1, seed: 39 }), options: {} },
  // The embedding scaled by sqrt(d), one KV head, and GeGLU: decode computes gelu(gate) · up in the down
  // projection's staging (MODE 4), a verify pass in kernels/gelu.wgsl; both with gelu_tanh.wgsl.
  { name: 'gemma F32', path: () => ensureSynthetic('verify-gemma', { ...QWEN3_SPEC, arch: 'gemma', nKvHeads: 1, tiedEmbedding: true, seed: 32 }), options: {} },
  // Granite's scales: on the residual branches and the logits in every matmul variant (OUT_SCALE), on q·k in attention.
  // LayerNorm with a gated FFN (the fused SwiGLU input in decode), rope on 16 of 32 dims.
  { name: 'stablelm F32', path: () => ensureSynthetic('verify-stablelm', { ...QWEN3_SPEC, arch: 'stablelm', headDim: undefined, nRot: 16, seed: 34 }), options: {} },
  { name: 'granite F32', path: () => ensureSynthetic('verify-granite', { ...QWEN3_SPEC, arch: 'granite', headDim: undefined, outputScale: 64, seed: 33 }), options: {} },
  // Experts: each (token, slot) pair of a batch is a one-token matvec on the expert its row's router chose.
  { name: 'qwen3moe F32', path: () => ensureSynthetic('verify-qwen3moe', QWEN3MOE_SPEC), options: {} },
  { name: 'qwen3moe Q8_0', path: () => ensureSynthetic('verify-qwen3moe-q8_0', { ...QWEN3MOE_SPEC, weightType: 'q8_0' }), options: {} },
  { name: 'qwen3moe Q8_0, pairs sorted by expert', path: () => ensureSynthetic('verify-qwen3moe-q8_0', { ...QWEN3MOE_SPEC, weightType: 'q8_0' }), options: { expertOrder: 'sorted' } },
  // Granite's scales, the residual one on the mixture's sum.
  { name: 'granitemoe F32', path: () => ensureSynthetic('verify-granitemoe', { ...QWEN3MOE_SPEC, arch: 'granitemoe', headDim: undefined, outputScale: 64, seed: 36 }), options: {} },
  // Routed weights not renormalised, and a shared expert gated per token (its activation scaled by the
  // sigmoid of a logit a matmul computes, its down projection unfused).
  { name: 'qwen2moe F32', path: () => ensureSynthetic('verify-qwen2moe', { ...QWEN3MOE_SPEC, arch: 'qwen2moe', headDim: undefined, seed: 41, experts: { ...QWEN3MOE_SPEC.experts!, sharedFfnDim: 160 } }), options: {} },
  // A leading dense layer, then experts with scaled, undivided weights beside two shared experts.
  { name: 'deepseek F32', path: () => ensureSynthetic('verify-deepseek', { ...QWEN3MOE_SPEC, arch: 'deepseek', headDim: undefined, seed: 44, experts: { ...QWEN3MOE_SPEC.experts!, sharedCount: 2, denseLeading: 1, weightsScale: 2 } }), options: {} },
  // A shared expert after the routed ones: its down projection fuses silu·up in decode, as a dense FFN's.
  { name: 'granitemoe with a shared expert F32', path: () => ensureSynthetic('verify-granitemoe-shexp', { ...QWEN3MOE_SPEC, arch: 'granitemoe', headDim: undefined, outputScale: 64, seed: 40, experts: { ...QWEN3MOE_SPEC.experts!, sharedFfnDim: 160 } }), options: {} },
];

for (const m of MODELS) {
  test(`${m.name} (GPU kernels): the rows of a verify pass equal decode steps, bit for bit, and leave the same K/V`, async () => {
    await withModel(await m.path(), { maxContextTokens: 256, maxBatchTokens: 64, ...GPU_KERNELS, ...m.options }, async (model) => {
      for (const c of CASES) await compareVerify(model, PROMPT.slice(0, c.prompt), PROMPT.slice(c.prompt, c.prompt + c.extra).map((t) => (t * 7) % 300));
    });
  });
}

test('stories260K (GPU kernels), attention split in decode only (attentionSplitTokens 1, what benchmarks compare): a verify row past one split is not a decode step bit for bit', async () => {
  await withModel(await ensureStories260K('f32'), { maxContextTokens: 256, maxBatchTokens: 64, ...GPU_KERNELS, attentionSplitTokens: 1 }, async (model) => {
    // Positions 14..18: rows 0 and 1 see one split of 16 keys (equal either way), rows 2..4 two.
    await assert.rejects(compareVerify(model, PROMPT.slice(0, 14), PROMPT.slice(14, 19)), /row 2 \(position 16\): \d+ of 512 logits differ/);
  });
});

/** Speculative decoding with n-gram drafts of 1, 4 and 16 tokens gives plain decoding's tokens; returns the tokens drafted. */
async function assertSpeculativeLossless(path: string, prompt: number[]): Promise<number> {
  return withModel(path, { maxContextTokens: 256, maxBatchTokens: 64, ...GPU_KERNELS }, async (model) => {
    const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
    const seq = new Sequence(pool);
    const plain = await generate(model, seq, prompt, { maxTokens: 80 });
    seq.clear();
    let drafted = 0;
    for (const k of [1, 4, 16]) {
      const r = await speculativeGenerate(model, seq, prompt, { maxTokens: 80, draft: new NgramDraft(), draftLength: k });
      seq.clear();
      assert.deepEqual(r.tokens, plain.tokens, `draft length ${k}`);
      drafted += r.stats.draftedTokens;
    }
    assert.equal(pool.usedBlocks, 0);
    return drafted;
  });
}

test('stories260K (GPU kernels): speculative decoding with n-gram drafts of 1 to 16 tokens gives plain decoding\'s tokens', async () => {
  await assertSpeculativeLossless(await ensureStories260K('f32'), [1, 403, 407, 261, 378, 10, 281]);
});

test('qwen3moe F32 (GPU kernels): speculative decoding with n-gram drafts of 1 to 16 tokens gives plain decoding\'s tokens', async () => {
  // A prompt that repeats, so the n-gram draft proposes from the start.
  const drafted = await assertSpeculativeLossless(await ensureSynthetic('verify-qwen3moe', QWEN3MOE_SPEC), [1, ...Array.from({ length: 4 }, () => [40, 41, 42, 43, 44, 45]).flat()]);
  assert.ok(drafted > 0, 'no token was drafted: the verify passes were never tested');
});
