// The model's workspace (model/workspace.ts): sized in one place, for the model to allocate and for the
// memory check to count. A vocabulary as large as Qwen2.5's costs 594 KiB a row of logits, so the head
// computes at most 17 rows unless asked for more, and the logits' staging buffer exists only once a request
// reads logits back. Loading and disposing a model gives back every GPU buffer it made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/common/errors';
import { gpuBufferCensus } from '../../src/gpu/buffers';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { ModelConfig } from '../../src/model/config';
import { NO_ROPE_SCALING } from '../../src/model/ropeScaling';
import { loadModel } from '../../src/model/load';
import { SPLIT_ATTENTION_MAX_TOKENS } from '../../src/ops/attention';
import { DEFAULT_MAX_LOGIT_ROWS, logitRowsForDraft, planWorkspace } from '../../src/model/workspace';
import { testGpu } from '../helpers/gpuModel';
import { ensureStories260K } from '../helpers/testModels';

const QWEN25_05B: ModelConfig = {
  architecture: 'qwen2', name: 'qwen2.5-coder-0.5b', nLayers: 24, dModel: 896, nHeads: 14, nKvHeads: 2, headDim: 64, nRot: 64, ffnDim: 4864,
  vocabSize: 151936, contextLength: 32768, ropeTheta: 1e6, ropeStyle: 'neox', ropeScaling: NO_ROPE_SCALING, normEps: 1e-6, slidingWindow: 0, qkNorm: false, norm: 'rms', ffn: 'swiglu', embeddingScale: 1, residualScale: 1, attentionScale: 1 / 8, logitScale: 1, experts: null, positions: 'rope', alibiMaxBias: 0, qkv: 'split', parallelResidual: false,
};
const GPU_SHAPE = { maxBatchTokens: 128, maxContextTokens: 4096, blockSize: 16, splitKeys: 256, maxBindingBytes: 128 * 2 ** 20 };

test('Qwen2.5-0.5B shapes: 17 rows of logits (10 MiB) by default, where a whole batch of 128 rows took 74 MiB twice', () => {
  const plan = planWorkspace(QWEN25_05B, GPU_SHAPE);
  assert.equal(plan.maxLogitRows, DEFAULT_MAX_LOGIT_ROWS);
  assert.equal(plan.storage.logits, 17 * 151936 * 4);
  assert.equal(plan.readback.logits, plan.storage.logits);
  const batchRows = planWorkspace(QWEN25_05B, { ...GPU_SHAPE, maxLogitRows: 128 });
  assert.equal(batchRows.storage.logits, 128 * 151936 * 4);
  assert.ok(plan.totalBytes < 32 * 2 ** 20 && batchRows.totalBytes > 150 * 2 ** 20, `${plan.totalBytes} vs ${batchRows.totalBytes} bytes`);
  // Rows never exceed one batch nor one storage binding.
  assert.equal(planWorkspace(QWEN25_05B, { ...GPU_SHAPE, maxBatchTokens: 8 }).maxLogitRows, 8);
  assert.equal(planWorkspace(QWEN25_05B, { ...GPU_SHAPE, maxLogitRows: 1000, maxBatchTokens: 1000, maxBindingBytes: 100 * 151936 * 4 }).maxLogitRows, 100);
  // A fixed draft length past 16 (the CLI's --draft-length allows 64) gets its k + 1 rows.
  assert.deepEqual(['auto' as const, undefined, 4, 16, 32].map(logitRowsForDraft), [17, 17, 17, 17, 33]);
});

test('a mixture of experts: its buffers per (token, slot) pair instead of the dense FFN\'s; a batch whose pairs would pass 65,535 workgroup rows is refused', () => {
  const moe: ModelConfig = { ...QWEN25_05B, architecture: 'qwen3moe', dModel: 2048, experts: { count: 128, used: 8, ffnDim: 768, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null } };
  const plan = planWorkspace(moe, GPU_SHAPE);
  assert.deepEqual([plan.storage.gateUp, plan.storage.ffn], [0, 0]);
  assert.deepEqual([plan.storage.routerLogits, plan.storage.routes, plan.storage.expertGateUp, plan.storage.expertOut], [128 * 128 * 4, 128 * 8 * 8, 128 * 8 * 2 * 768 * 4, 128 * 8 * 2048 * 4]);
  assert.equal(planWorkspace(QWEN25_05B, GPU_SHAPE).storage.expertOut, 0);
  assert.doesNotThrow(() => planWorkspace(moe, { ...GPU_SHAPE, maxBatchTokens: 8191 }));
  assert.throws(() => planWorkspace(moe, { ...GPU_SHAPE, maxBatchTokens: 8192 }), (e: unknown) => e instanceof UsageError && /a batch of 8192 tokens with 8 experts a token \(at most 8191 tokens\)/.test(e.message));
});

test('split attention partials: a row per token of a pass that splits (32), fewer where one binding holds fewer; the option is checked', () => {
  // Qwen2.5-0.5B at 4,096 tokens, 256 keys a split: 14 heads x 16 splits x (64 + 2) floats a token.
  const perToken = 14 * 16 * 66 * 4;
  const plan = planWorkspace(QWEN25_05B, GPU_SHAPE);
  assert.equal(plan.splitTokens, SPLIT_ATTENTION_MAX_TOKENS);
  assert.equal(plan.storage.partials, SPLIT_ATTENTION_MAX_TOKENS * perToken);
  assert.equal(planWorkspace(QWEN25_05B, { ...GPU_SHAPE, maxBatchTokens: 8 }).splitTokens, 8);
  assert.equal(planWorkspace(QWEN25_05B, { ...GPU_SHAPE, splitTokens: 1 }).storage.partials, perToken);
  assert.equal(planWorkspace(QWEN25_05B, { ...GPU_SHAPE, maxBindingBytes: 5 * perToken + 1 }).splitTokens, 5);
  for (const bad of [0, 33, 2.5]) assert.throws(() => planWorkspace(QWEN25_05B, { ...GPU_SHAPE, splitTokens: bad }), UsageError);
});

test('a loaded model holds its weights, KV pool and the planned workspace; logits are staged only when read; dispose frees all', async () => {
  const gpu = await testGpu();
  const before = gpuBufferCensus();
  const { model } = await loadModel(gpu, await ensureStories260K('f32'), { maxContextTokens: 256, maxBatchTokens: 64 });
  try {
    assert.equal(model.maxLogitRows, 17);
    const loaded = gpuBufferCensus();
    const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
    await model.forward({ tokens: [1, 2, 3], seq, logitRows: 3, wantLogits: false });
    assert.deepEqual(gpuBufferCensus(), loaded, 'greedy passes make no buffer');
    await assert.rejects(model.forward({ tokens: Array(18).fill(5), seq, logitRows: 18, wantLogits: false }), /logitRows 18/);
    const r = await model.forward({ tokens: [4, 5], seq, logitRows: 2, wantLogits: true });
    assert.equal(r.logits!.length, 2 * model.config.vocabSize);
    const staged = gpuBufferCensus();
    assert.equal(staged.buffers, loaded.buffers + 1, 'the logits staging buffer, made on the first read');
    assert.equal(staged.bytes - loaded.bytes, 17 * model.config.vocabSize * 4);
    await model.forward({ tokens: [6], seq, logitRows: 1, wantLogits: true });
    assert.deepEqual(gpuBufferCensus(), staged, 'and made once');
  } finally {
    model.dispose();
  }
  assert.deepEqual(gpuBufferCensus(), before, 'every buffer of the model is destroyed');
});
