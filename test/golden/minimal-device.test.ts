// Tandem on the least any WebGPU adapter offers: a device with the specification's default limits (8
// storage buffers a stage, 16 KiB of workgroup memory, 256 invocations a workgroup, 128 MiB bindings) and
// none of the optional features (shader-f16, subgroups, timestamps) instead of the adapter's own. The
// engine sizes its kernels by the device: where a fused kernel no longer fits (the down projection stages
// silu(gate)·up, 4,864 floats at Qwen2.5-0.5B's width, in 19 KiB of workgroup memory), the separate
// dispatch runs instead; without shader-f16 the KV cache is f32 and F16 weights are unpacked as u32 pairs.
// The tokens must not change, and no pipeline or dispatch may fail validation.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu } from '../../src/gpu/device';
import { resolveKvType } from '../../src/kvcache/kvBuffers';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import { generate, prefill } from '../../src/engine/generate';
import { encodedDispatches } from '../../src/ops/context';
import type { LlamaModel } from '../../src/model/llama';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { ensureStories260K, ensureSynthetic, stories260KGolden } from '../helpers/testModels';
import { GPU_KERNELS, testGpu, withModelOn } from '../helpers/gpuModel';

let minimal: Promise<Gpu> | undefined;
const minimalGpu = () => (minimal ??= Gpu.acquire({ minimal: true }));
after(async () => (await minimal)?.dispose());

test('a minimal device has WebGPU\'s default limits and no optional feature, whatever the adapter offers', async () => {
  const gpu = await minimalGpu();
  const l = gpu.limits;
  assert.equal(l.maxStorageBuffersPerShaderStage, 8);
  assert.equal(l.maxComputeWorkgroupStorageSize, 16384);
  assert.equal(l.maxComputeInvocationsPerWorkgroup, 256);
  assert.equal(l.maxStorageBufferBindingSize, 128 * 2 ** 20);
  assert.deepEqual(['shader-f16', 'subgroups', 'timestamp-query'].filter((f) => gpu.device.features.has(f)), []);
  assert.equal(gpu.hasSubgroups || gpu.hasTimestamps, false);
  assert.equal(resolveKvType(gpu.device, undefined), 'f32');
});

for (const { name, matvec, attentionSplitKeys } of [
  { name: 'software kernels', matvec: 'rows', attentionSplitKeys: 0 },
  { name: 'GPU kernels', ...GPU_KERNELS },
] as const) {
  test(`minimal device, stories260K F32 (${name}): the 200 golden greedy tokens`, async () => {
    const golden = stories260KGolden();
    await withModelOn(await minimalGpu(), await ensureStories260K('f32'), { matvec, attentionSplitKeys }, async (model) => {
      const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
      const r = await generate(model, seq, golden.prompt, { maxTokens: golden.greedy_tokens.length });
      assert.deepEqual(r.tokens, golden.greedy_tokens);
    });
  });
}

test('minimal device, stories260K F16 and Q4_0 weights (GPU kernels): the tokens of the adapter\'s device, both with an f32 cache', async () => {
  const golden = stories260KGolden();
  for (const type of ['f16', 'q4_0'] as const) {
    const path = await ensureStories260K(type);
    const options = { ...GPU_KERNELS, kvType: 'f32' } as const;
    const tokensOn = (gpu: Gpu) => withModelOn(gpu, path, options, async (model) => {
      const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
      return (await generate(model, seq, golden.prompt, { maxTokens: 120 })).tokens;
    });
    assert.deepEqual(await tokensOn(await minimalGpu()), await tokensOn(await testGpu()), type);
  }
});

/** Qwen2.5-0.5B's widths (d 896, ffn 4864, 14/2 heads of 64), one layer and a small vocabulary: fast here. */
const QWEN_WIDTHS: SyntheticSpec = {
  arch: 'qwen2', nLayers: 1, dModel: 896, nHeads: 14, nKvHeads: 2, ffnDim: 4864, vocabSize: 4096,
  contextLength: 512, ropeTheta: 1000000, tiedEmbedding: true, weightType: 'q8_0', seed: 5, tokenizer: 'spm-bytes',
};

/** Greedy tokens after a fixed prompt, the first decode row's probability, and the dispatches of one decode pass. */
async function run(model: LlamaModel): Promise<{ tokens: number[]; p: number; dispatches: number }> {
  const prompt = Array.from({ length: 40 }, (_, i) => 3 + ((i * 97) % (model.config.vocabSize - 3)));
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const probe = new Sequence(pool);
  await prefill(model, probe, prompt.slice(0, -1), false);
  const before = encodedDispatches();
  const first = await model.forward({ tokens: prompt.slice(-1), seq: probe, logitRows: 1, wantLogits: false });
  const dispatches = encodedDispatches() - before;
  probe.clear();
  const seq = new Sequence(pool);
  const r = await generate(model, seq, prompt, { maxTokens: 12 });
  seq.clear();
  return { tokens: r.tokens, p: first.probs![0], dispatches };
}

test('minimal device, Qwen2.5-0.5B widths (GPU kernels): the down projection runs unfused, and the tokens are those of the adapter\'s device', async () => {
  const path = await ensureSynthetic('minimal-device-qwen2-d896-q8_0', QWEN_WIDTHS);
  const options = { ...GPU_KERNELS, maxContextTokens: 256, kvType: 'f32' } as const;
  const full = await withModelOn(await testGpu(), path, options, run);
  const least = await withModelOn(await minimalGpu(), path, options, run);
  if ((await testGpu()).limits.maxComputeWorkgroupStorageSize >= 4864 * 4 + 256 * 4 + 8) {
    // The adapter fuses silu(gate)·up into the down projection; at 16 KiB it runs apart: one more dispatch a layer.
    assert.equal(least.dispatches, full.dispatches + QWEN_WIDTHS.nLayers, `${least.dispatches} vs ${full.dispatches} dispatches a decode pass`);
  }
  assert.deepEqual(least.tokens, full.tokens);
  assert.ok(Math.abs(least.p - full.p) < 1e-5, `${least.p} vs ${full.p}`);
});
