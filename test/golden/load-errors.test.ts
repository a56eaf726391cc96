// Bad situations while loading or running a model end in typed errors and leave the engine usable:
// a model over the memory budget, a tensor type the kernels cannot run, a damaged rope_freqs tensor,
// tensors or experts the forward pass would not read, a qwen3 file without a head norm, a starcoder2 file
// without a bias it requires, a starcoder file without (or with a short) position embedding, a refact file
// with a bias its graph would not add, a lost GPU device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureStories260K, ensureSynthetic, cacheDir, fuseQkv, rewriteGguf } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import { Gpu } from '../../src/gpu/device';
import { GgmlType, GGML_BLOCK_LAYOUT, GgufValueType } from '../../src/loaders/gguf/types';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { DeviceLostError, ModelFormatError, OutOfMemoryError, UnsupportedModelError, UnsupportedQuantError } from '../../src/common/errors';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';

test('a model over the memory budget: OutOfMemoryError with the sizes, before any upload; a later load works', async () => {
  const gpu = await testGpu();
  const path = await ensureStories260K('f32');
  await assert.rejects(loadModel(gpu, path, { memoryBudgetBytes: 500_000 }), (e: unknown) => {
    assert.ok(e instanceof OutOfMemoryError, String(e));
    assert.match(e.message, /needs 1 MiB of weights \+ \d+ MiB of KV cache \+ \d+ MiB of workspace; the memory budget is 1 MiB/);
    assert.ok(e.neededBytes! > 1_000_000);
    return true;
  });
  const { model } = await loadModel(gpu, path, { memoryBudgetBytes: 64 << 20 });
  model.dispose();
});

/** A small tied llama, the base of the damaged copies below. */
const LOAD_ERRORS_SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 1, dModel: 256, nHeads: 4, nKvHeads: 2, ffnDim: 512, vocabSize: 300,
  contextLength: 256, ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 3, tokenizer: 'spm-bytes',
};

test('a quantization Tandem does not run (IQ2_XXS): UnsupportedQuantError naming the tensor and its type', async () => {
  const src = await ensureSynthetic('load-errors-llama', LOAD_ERRORS_SPEC);
  const out = join(cacheDir(), 'load-errors-iq2xxs.gguf');
  const target = 'blk.0.ffn_down.weight'; // [256][512]: rows of 512, whole IQ2_XXS blocks of 256
  const iq2xxs = GGML_BLOCK_LAYOUT[GgmlType.IQ2_XXS]!;
  await rewriteGguf(src, out, {
    replace: (t) => t.name === target ? { type: GgmlType.IQ2_XXS, data: new Uint8Array((t.elementCount / iq2xxs.blockElems) * iq2xxs.blockBytes) } : undefined,
  });
  await assert.rejects(loadModel(await testGpu(), out), (e: unknown) => {
    assert.ok(e instanceof UnsupportedQuantError, String(e));
    assert.match(e.message, /blk\.0\.ffn_down\.weight has type IQ2_XXS/);
    return true;
  });
});

test('a lost device: the next forward pass throws DeviceLostError, a new device works', async () => {
  const path = await ensureStories260K('f32');
  const gpu = await Gpu.acquire();
  const { model } = await loadModel(gpu, path);
  const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
  await model.forward({ tokens: [1], seq, logitRows: 1, wantLogits: false });
  gpu.device.destroy();
  await gpu.device.lost;
  await assert.rejects(model.forward({ tokens: [403], seq, logitRows: 1, wantLogits: false }), DeviceLostError);
  const fresh = await Gpu.acquire();
  const again = await loadModel(fresh, path);
  const r = await again.model.forward({ tokens: [1], seq: new Sequence(new BlockPool(again.model.kv.nBlocks, 16)), logitRows: 1, wantLogits: false });
  assert.equal(r.ids[0], 403);
  again.model.dispose();
  fresh.dispose();
});

test('a rope_freqs tensor with a zero (every angle would be infinite): ModelFormatError naming the tensor; the file with its real factors loads', async () => {
  const src = await ensureSynthetic('load-errors-llama3-rope', {
    ...LOAD_ERRORS_SPEC, ropeTheta: 500000, llama3Rope: { factor: 8, originalContext: 64, lowFreqFactor: 1, highFreqFactor: 4 },
  });
  const { model } = await loadModel(await testGpu(), src);
  assert.equal(model.weights.ropeFreqFactors?.length, 32);
  model.dispose();
  const out = join(cacheDir(), 'load-errors-rope-freqs-zero.gguf');
  await rewriteGguf(src, out, {
    replace: (t, data) => {
      if (t.name !== 'rope_freqs.weight') return undefined;
      new DataView(data.buffer, data.byteOffset).setFloat32(4 * 5, 0, true);
      return { type: t.type, data };
    },
  });
  await assert.rejects(loadModel(await testGpu(), out), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.match(e.message, /tensor\.rope_freqs\.weight: value 0 at 5 is not a positive frequency factor/);
    return true;
  });
});

test('tensors the forward pass would not read (an output bias, experts, a layer too many) and a mixture-of-experts header: UnsupportedModelError naming them, before any upload', async () => {
  const src = await ensureSynthetic('load-errors-llama', LOAD_ERRORS_SPEC);
  const copy = async (name: string, extra: { name: string; dims: number[] } | undefined, meta: Record<string, number> = {}) => {
    const out = join(cacheDir(), `load-errors-${name}.gguf`);
    await rewriteGguf(src, out, {
      addTensors: extra ? [{ ...extra, type: GgmlType.F32, data: new Uint8Array(4 * extra.dims.reduce((a, b) => a * b, 1)) }] : [],
      addMetadata: Object.entries(meta).map(([key, value]) => ({ key, type: GgufValueType.UINT32, value })),
    });
    return out;
  };
  const gpu = await testGpu();
  const cases: [string, Promise<string>, RegExp][] = [
    ['bias', copy('output-bias', { name: 'output.bias', dims: [300] }), /tensor output\.bias \(a bias\): Tandem's llama forward pass does not read it/],
    ['experts', copy('gate-inp', { name: 'blk.0.ffn_gate_inp.weight', dims: [256, 4] }), /blk\.0\.ffn_gate_inp\.weight \(mixture of experts\)/],
    ['a layer too many', copy('extra-layer', { name: 'blk.1.attn_norm.weight', dims: [256] }), /tensor blk\.1\.attn_norm\.weight:/],
    // A Mixtral-style header over dense tensors: the dense FFN is not what a mixture's layer reads.
    ['expert_count', copy('expert-count', undefined, { 'llama.expert_count': 8, 'llama.expert_used_count': 2 }), /tensor blk\.0\.ffn_(gate|up|down)\.weight: Tandem's llama forward pass does not read it/],
    ['a norm bias', copy('norm-bias', { name: 'blk.0.attn_norm.bias', dims: [256] }), /tensor blk\.0\.attn_norm\.bias \(a bias\): Tandem's llama forward pass does not read it/],
    ['a q/k head norm', copy('q-norm', { name: 'blk.0.attn_q_norm.weight', dims: [64] }), /blk\.0\.attn_q_norm\.weight \(a per-head q\/k norm, which qwen3 has\)/],
  ];
  for (const [what, path, message] of cases) {
    await assert.rejects(loadModel(gpu, await path), (e: unknown) => {
      assert.ok(e instanceof UnsupportedModelError, `${what}: ${String(e)}`);
      assert.match(e.message, message, what);
      return true;
    });
  }
  // The unchanged file still loads on the same device.
  const { model } = await loadModel(gpu, src);
  model.dispose();
});

test('a qwen3 file without one of its per-head k norms: ModelFormatError naming the tensor; the whole file loads', async () => {
  const src = await ensureSynthetic('load-errors-qwen3', { ...LOAD_ERRORS_SPEC, arch: 'qwen3', nLayers: 2, headDim: 128 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.equal(model.config.headDim, 128);
  assert.equal(model.config.nHeads * model.config.headDim, 2 * model.config.dModel);
  model.dispose();
  const out = join(cacheDir(), 'load-errors-qwen3-no-k-norm.gguf');
  await rewriteGguf(src, out, { keep: (t) => t.name !== 'blk.1.attn_k_norm.weight' });
  await assert.rejects(loadModel(gpu, out), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.match(e.message, /tensor\.blk\.1\.attn_k_norm\.weight: missing/);
    return true;
  });
});

test('a starcoder2 file without its ffn_down bias or a LayerNorm bias: ModelFormatError naming the tensor; the whole file loads', async () => {
  const src = await ensureSynthetic('load-errors-starcoder2', { ...LOAD_ERRORS_SPEC, arch: 'starcoder2', nLayers: 2 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.norm, model.config.ffn], ['layer', 'gelu']);
  model.dispose();
  for (const missing of ['blk.1.ffn_down.bias', 'blk.0.ffn_norm.bias', 'output_norm.bias']) {
    const out = join(cacheDir(), `load-errors-starcoder2-no-${missing}.gguf`);
    await rewriteGguf(src, out, { keep: (t) => t.name !== missing });
    await assert.rejects(loadModel(gpu, out), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, String(e));
      assert.match(e.message, new RegExp(`tensor\\.${missing.replace(/\./g, '\\.')}: missing`));
      return true;
    });
  }
});

test('a starcoder file: a position embedding of context_length rows (not requantized) and one fused qkv; without either, or with fewer rows than context_length, ModelFormatError naming the tensor; a llama file with q|k|v fused loads, with both layouts it is refused by name', async () => {
  const src = await ensureSynthetic('load-errors-starcoder', { ...LOAD_ERRORS_SPEC, arch: 'starcoder', nLayers: 2, nKvHeads: 1 });
  const gpu = await testGpu();
  // The context never outgrows the position table, whatever is asked.
  const { model } = await loadModel(gpu, src, { maxContextTokens: 4096 });
  const w = model.weights;
  assert.deepEqual([model.config.positions, w.positionEmbedding?.rows, w.positionEmbedding?.cols, model.options.maxContextTokens], ['learned', 256, 256, 256]);
  assert.deepEqual([w.layers[1].qkv.parts.length, w.layers[1].qkv.outDim, w.layers[1].qkv.bias !== null], [1, 256 + 2 * 64, true]);
  model.dispose();
  // A requantized copy (a self-draft) keeps the position embedding as the file has it, as llama-quantize does.
  const { model: draft } = await loadModel(gpu, src, { requantize: 'q4_0' });
  assert.deepEqual([draft.weights.tokenEmbedding.dtype, draft.weights.layers[0].qkv.parts[0].matrix.dtype, draft.weights.positionEmbedding?.dtype], ['q4_0', 'q4_0', 'f32']);
  draft.dispose();
  for (const missing of ['position_embd.weight', 'blk.1.attn_qkv.weight', 'blk.0.attn_qkv.bias']) {
    const out = join(cacheDir(), `load-errors-starcoder-no-${missing}.gguf`);
    await rewriteGguf(src, out, { keep: (t) => t.name !== missing });
    await assert.rejects(loadModel(gpu, out), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, String(e));
      assert.match(e.message, new RegExp(`tensor\\.${missing.replace(/\./g, '\\.')}: missing`));
      return true;
    });
  }
  const longer = join(cacheDir(), 'load-errors-starcoder-context-512.gguf');
  await rewriteGguf(src, longer, { addMetadata: [{ key: 'starcoder.context_length', type: GgufValueType.UINT32, value: 512 }] });
  await assert.rejects(loadModel(gpu, longer), (e: unknown) => e instanceof ModelFormatError && /tensor\.position_embd\.weight: shape \[256,256\] where \[256,512\] was expected/.test(e.message));
  // llama.cpp's loaders take q|k|v as one attn_qkv too (create_tensor_qkv): the file decides; both at once is neither.
  const llama = await ensureSynthetic('load-errors-llama', LOAD_ERRORS_SPEC);
  const fused = join(cacheDir(), 'load-errors-llama-fused-qkv.gguf');
  await fuseQkv(llama, fused);
  const { model: fusedModel } = await loadModel(gpu, fused);
  assert.deepEqual([fusedModel.config.qkv, fusedModel.weights.layers[0].qkv.outDim], ['fused', 512]);
  fusedModel.dispose();
  const both = join(cacheDir(), 'load-errors-llama-both-qkv.gguf');
  await rewriteGguf(llama, both, { addTensors: [{ name: 'blk.0.attn_qkv.weight', dims: [256, 512], type: GgmlType.F32, data: new Uint8Array(256 * 512 * 4) }] });
  await assert.rejects(loadModel(gpu, both), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.attn_q\.weight: Tandem's llama forward pass does not read it/.test(e.message));
});

test('a Mixtral-style llama file loads its experts; an FFN bias there (its MoE branch has none), or experts one tensor each (the old layout), refused by name', async () => {
  const src = await ensureSynthetic('load-errors-llama-moe', { ...LOAD_ERRORS_SPEC, experts: { count: 4, used: 2, ffnDim: 64 } });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.experts, model.weights.layers[0].gateUp, model.weights.layers[0].experts?.up.matrix.rows], [{ count: 4, used: 2, ffnDim: 64, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null }, null, 4 * 64]);
  model.dispose();
  const out = join(cacheDir(), 'load-errors-llama-moe-ffn-bias.gguf');
  await rewriteGguf(src, out, { addTensors: [{ name: 'blk.0.ffn_up.bias', dims: [64], type: GgmlType.F32, data: new Uint8Array(64 * 4) }] });
  await assert.rejects(loadModel(gpu, out), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_up\.bias \(a bias\): Tandem's llama forward pass does not read it/.test(e.message));
  // Experts one tensor each (Mixtral GGUFs from before April 2024).
  const perExpert = join(cacheDir(), 'load-errors-llama-moe-per-expert.gguf');
  await rewriteGguf(src, perExpert, { addTensors: [{ name: 'blk.0.ffn_gate.0.weight', dims: [256, 64], type: GgmlType.F32, data: new Uint8Array(256 * 64 * 4) }] });
  await assert.rejects(loadModel(gpu, perExpert), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_gate\.0\.weight \(one expert in a tensor of its own: the pre-2024 Mixtral layout/.test(e.message));
});

test('a refact file: ALiBi slopes, no rope, q|k|v biases read when present; an attention-output bias (its graph never adds one) and an expert_count refused by name', async () => {
  const src = await ensureSynthetic('load-errors-refact', { ...LOAD_ERRORS_SPEC, arch: 'refact', nKvHeads: 1 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.positions, model.config.nRot, model.config.alibiMaxBias], ['alibi', 0, 8]);
  model.dispose();
  const withQkvBias = join(cacheDir(), 'load-errors-refact-qkv-bias.gguf');
  const bias = (name: string, n: number) => ({ name, dims: [n], type: GgmlType.F32, data: new Uint8Array(n * 4) });
  await rewriteGguf(src, withQkvBias, { addTensors: [bias('blk.0.attn_q.bias', 256), bias('blk.0.attn_k.bias', 64), bias('blk.0.attn_v.bias', 64)] });
  const biased = await loadModel(gpu, withQkvBias);
  assert.ok(biased.model.weights.layers[0].qkv.bias, 'the q|k|v biases are read');
  biased.model.dispose();
  const outBias = join(cacheDir(), 'load-errors-refact-output-bias.gguf');
  await rewriteGguf(src, outBias, { addTensors: [bias('blk.0.attn_output.bias', 256)] });
  await assert.rejects(loadModel(gpu, outBias), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.attn_output\.bias \(a bias\): Tandem's refact forward pass does not read it/.test(e.message));
  const experts = join(cacheDir(), 'load-errors-refact-experts.gguf');
  await rewriteGguf(src, experts, { addMetadata: [{ key: 'refact.expert_count', type: GgufValueType.UINT32, value: 4 }] });
  await assert.rejects(loadModel(gpu, experts), (e: unknown) => e instanceof UnsupportedModelError && /a refact mixture of experts \(4 experts per layer\)/.test(e.message));
});

test('a stablelm file without ffn_norm (the parallel residual of StableLM 2 12B): UnsupportedModelError saying so, before any upload; with them, it loads', async () => {
  const src = await ensureSynthetic('load-errors-stablelm', { ...LOAD_ERRORS_SPEC, arch: 'stablelm', nLayers: 2, tiedEmbedding: false, nRot: 16 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.norm, model.config.ffn, model.config.ropeStyle, model.config.nRot], ['layer', 'swiglu', 'neox', 16]);
  model.dispose();
  const out = join(cacheDir(), 'load-errors-stablelm-parallel.gguf');
  await rewriteGguf(src, out, { keep: (t) => !t.name.includes('.ffn_norm.') });
  await assert.rejects(loadModel(gpu, out), (e: unknown) => e instanceof UnsupportedModelError && /a parallel-residual stablelm \(no blk\.0\.ffn_norm, as in StableLM 2 12B\)/.test(e.message));
});

test('a qwen3moe file: its experts loaded (a token reads 2 of 4); without an expert matrix, or with one of other experts, ModelFormatError naming it; a merged gate_up_exps, a shared expert or a dense ffn_up, refused by name', async () => {
  const spec: SyntheticSpec = { ...LOAD_ERRORS_SPEC, arch: 'qwen3moe', nLayers: 2, headDim: 64, experts: { count: 4, used: 2, ffnDim: 64 } };
  const src = await ensureSynthetic('load-errors-qwen3moe', spec);
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  const L = model.weights.layers[1];
  assert.deepEqual([L.gateUp, L.down, L.experts?.gate.matrix.rows, L.experts?.down.matrix.rows, L.experts?.down.matrix.cols], [null, null, 4 * 64, 4 * 256, 64]);
  // A decode step reads the router and half of every expert matrix (2 of 4 experts), not all of them.
  const expertBytes = model.weights.layers.reduce((s, l) => s + l.experts!.gate.matrix.bytes + l.experts!.up.matrix.bytes + l.experts!.down.matrix.bytes, 0);
  const denseParts = model.weights.layers.reduce((s, l) => s + [...l.qkv.parts, ...l.attnOut.parts, ...l.experts!.router.parts].reduce((a, p) => a + p.matrix.bytes, 0), 0);
  assert.equal(model.weights.bytesPerToken, denseParts + expertBytes / 2 + model.weights.output.bytes);
  model.dispose();
  const d = spec.dModel;
  const variant = async (name: string, r: Parameters<typeof rewriteGguf>[2]) => {
    const out = join(cacheDir(), `load-errors-qwen3moe-${name}.gguf`);
    await rewriteGguf(src, out, r);
    return out;
  };
  await assert.rejects(loadModel(gpu, await variant('no-down', { keep: (t) => t.name !== 'blk.1.ffn_down_exps.weight' })),
    (e: unknown) => e instanceof ModelFormatError && /tensor\.blk\.1\.ffn_down_exps\.weight: missing/.test(e.message));
  const fewer = new Float32Array(d * 64 * 3);
  await assert.rejects(loadModel(gpu, await variant('three-experts', {
    keep: (t) => t.name !== 'blk.0.ffn_up_exps.weight',
    addTensors: [{ name: 'blk.0.ffn_up_exps.weight', dims: [d, 64, 3], type: GgmlType.F32, data: new Uint8Array(fewer.buffer) }],
  })), (e: unknown) => e instanceof ModelFormatError && /tensor\.blk\.0\.ffn_up_exps\.weight: shape \[256,64,3\] where \[256,64,4\] was expected/.test(e.message));
  const merged = new Float32Array(d * 128 * 4);
  await assert.rejects(loadModel(gpu, await variant('merged', { addTensors: [{ name: 'blk.0.ffn_gate_up_exps.weight', dims: [d, 128, 4], type: GgmlType.F32, data: new Uint8Array(merged.buffer) }] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_gate_up_exps\.weight \(an expert tensor qwen3moe does not have\)/.test(e.message));
  // A shared expert in qwen3moe (Qwen2-MoE's, with its gate) is another graph.
  const shared = new Float32Array(d * 64);
  await assert.rejects(loadModel(gpu, await variant('shared-expert', { addTensors: [{ name: 'blk.0.ffn_up_shexp.weight', dims: [d, 64], type: GgmlType.F32, data: new Uint8Array(shared.buffer) }] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_up_shexp\.weight \(a shared expert\)/.test(e.message));
  const up = new Float32Array(d * 64);
  await assert.rejects(loadModel(gpu, await variant('dense-up', { addTensors: [{ name: 'blk.0.ffn_up.weight', dims: [d, 64], type: GgmlType.F32, data: new Uint8Array(up.buffer) }] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_up\.weight: Tandem's qwen3moe forward pass does not read it/.test(e.message));
});

test('a granitemoe file with a shared expert loads it (its width from expert_shared_feed_forward_length); without a shared matrix, ModelFormatError naming it; shared tensors the metadata does not announce, refused by name', async () => {
  const src = await ensureSynthetic('load-errors-granitemoe-shexp', { ...LOAD_ERRORS_SPEC, arch: 'granitemoe', experts: { count: 4, used: 2, ffnDim: 64, sharedFfnDim: 96 } });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  const S = model.weights.layers[0].sharedExpert;
  assert.deepEqual([model.config.experts?.shared, S?.gateUp.outDim, S?.down.inDim, S?.down.outDim, S?.gate], [{ ffnDim: 96, gated: false }, 192, 96, 256, null]);
  model.dispose();
  const noDown = join(cacheDir(), 'load-errors-granitemoe-shexp-no-down.gguf');
  await rewriteGguf(src, noDown, { keep: (t) => t.name !== 'blk.0.ffn_down_shexp.weight' });
  await assert.rejects(loadModel(gpu, noDown), (e: unknown) => e instanceof ModelFormatError && /tensor\.blk\.0\.ffn_down_shexp\.weight: missing/.test(e.message));
  const unannounced = join(cacheDir(), 'load-errors-granitemoe-shexp-unannounced.gguf');
  await rewriteGguf(src, unannounced, { addMetadata: [{ key: 'granitemoe.expert_shared_feed_forward_length', type: GgufValueType.UINT32, value: 0 }] });
  await assert.rejects(loadModel(gpu, unannounced), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_gate_shexp\.weight \(a shared expert, which no expert_shared_feed_forward_length announces\)/.test(e.message));
});

test('a qwen2moe file: its gated shared expert loaded (the gate a vector [d], read as one row, kept f32 in a self-draft); without the gate, ModelFormatError naming it', async () => {
  const src = await ensureSynthetic('load-errors-qwen2moe', { ...LOAD_ERRORS_SPEC, arch: 'qwen2moe', experts: { count: 4, used: 2, ffnDim: 64, sharedFfnDim: 96 } });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  const S = model.weights.layers[0].sharedExpert;
  assert.deepEqual([model.config.experts?.shared, model.config.experts?.normalizeWeights, S?.gate?.inDim, S?.gate?.outDim], [{ ffnDim: 96, gated: true }, false, 256, 1]);
  model.dispose();
  // A self-draft requantizes the matrices and keeps the gate vector as it is (as requantizedWeightBytes counts it).
  const { model: draft } = await loadModel(gpu, src, { requantize: 'q8_0' });
  const D = draft.weights.layers[0].sharedExpert;
  assert.deepEqual([D?.gate?.parts[0].matrix.dtype, D?.gateUp.parts[0].matrix.dtype], ['f32', 'q8_0']);
  draft.dispose();
  const noGate = join(cacheDir(), 'load-errors-qwen2moe-no-gate.gguf');
  await rewriteGguf(src, noGate, { keep: (t) => t.name !== 'blk.0.ffn_gate_inp_shexp.weight' });
  await assert.rejects(loadModel(gpu, noGate), (e: unknown) => e instanceof ModelFormatError && /tensor\.blk\.0\.ffn_gate_inp_shexp\.weight: missing/.test(e.message));
});

test('a phi2 file: no ffn_norm, an output bias; without the output bias, ModelFormatError naming it; an ffn_norm refused by name', async () => {
  const src = await ensureSynthetic('load-errors-phi2', { ...LOAD_ERRORS_SPEC, arch: 'phi2', tiedEmbedding: false, nRot: 32 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.parallelResidual, model.weights.layers[0].ffnNorm, model.weights.outputBias !== null], [true, null, true]);
  model.dispose();
  const variant = async (name: string, r: Parameters<typeof rewriteGguf>[2]) => {
    const out = join(cacheDir(), `load-errors-phi2-${name}.gguf`);
    await rewriteGguf(src, out, r);
    return out;
  };
  await assert.rejects(loadModel(gpu, await variant('no-output-bias', { keep: (t) => t.name !== 'output.bias' })),
    (e: unknown) => e instanceof ModelFormatError && /tensor\.output\.bias: missing/.test(e.message));
  const norm = new Float32Array(256);
  await assert.rejects(loadModel(gpu, await variant('ffn-norm', { addTensors: [{ name: 'blk.0.ffn_norm.weight', dims: [256], type: GgmlType.F32, data: new Uint8Array(norm.buffer) }] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_norm\.weight: Tandem's phi2 forward pass does not read it/.test(e.message));
});

test('a chatglm file: gate and up as one ffn_up of 2 x feed_forward_length rows; an ffn_gate of its own refused by name', async () => {
  const src = await ensureSynthetic('load-errors-chatglm', { ...LOAD_ERRORS_SPEC, arch: 'chatglm', nRot: 32 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.weights.layers[0].gateUp?.outDim, model.weights.layers[0].gateUp?.parts.length, model.weights.layers[0].qkv.bias !== null], [2 * 512, 1, true]);
  model.dispose();
  const out = join(cacheDir(), 'load-errors-chatglm-ffn-gate.gguf');
  await rewriteGguf(src, out, { addTensors: [{ name: 'blk.0.ffn_gate.weight', dims: [256, 512], type: GgmlType.F32, data: new Uint8Array(256 * 512 * 4) }] });
  await assert.rejects(loadModel(gpu, out), (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_gate\.weight: Tandem's chatglm forward pass does not read it/.test(e.message));
});

test('a deepseek file: its leading dense layer and its mixture after it; experts in the dense layer, or a dense FFN in a mixture layer, refused by name', async () => {
  const src = await ensureSynthetic('load-errors-deepseek', { ...LOAD_ERRORS_SPEC, arch: 'deepseek', nLayers: 2, experts: { count: 4, used: 2, ffnDim: 64, sharedCount: 2, denseLeading: 1 } });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  const [dense, moe] = model.weights.layers;
  assert.deepEqual([dense.gateUp?.outDim, dense.experts, moe.gateUp, moe.experts?.up.matrix.rows, moe.sharedExpert?.down.inDim], [2 * 512, null, null, 4 * 64, 128]);
  model.dispose();
  const variant = async (name: string, add: { name: string; dims: number[] }) => {
    const out = join(cacheDir(), `load-errors-deepseek-${name}.gguf`);
    await rewriteGguf(src, out, { addTensors: [{ ...add, type: GgmlType.F32, data: new Uint8Array(4 * add.dims.reduce((a, b) => a * b, 1)) }] });
    return out;
  };
  await assert.rejects(loadModel(gpu, await variant('experts-in-dense', { name: 'blk.0.ffn_gate_inp.weight', dims: [256, 4] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.0\.ffn_gate_inp\.weight/.test(e.message));
  await assert.rejects(loadModel(gpu, await variant('dense-in-moe', { name: 'blk.1.ffn_up.weight', dims: [256, 512] })),
    (e: unknown) => e instanceof UnsupportedModelError && /tensor blk\.1\.ffn_up\.weight: Tandem's deepseek forward pass does not read it/.test(e.message));
});

test('a gemma file: the embedding scale and GeGLU from the architecture; without its ffn_gate, ModelFormatError naming it; with an output head of its own, refused by name (its graph always ties it)', async () => {
  const src = await ensureSynthetic('load-errors-gemma', { ...LOAD_ERRORS_SPEC, arch: 'gemma', nLayers: 2 });
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, src);
  assert.deepEqual([model.config.ffn, model.config.embeddingScale, model.weights.output === model.weights.tokenEmbedding], ['geglu', 16, true]);
  model.dispose();
  const noGate = join(cacheDir(), 'load-errors-gemma-no-gate.gguf');
  await rewriteGguf(src, noGate, { keep: (t) => t.name !== 'blk.1.ffn_gate.weight' });
  await assert.rejects(loadModel(gpu, noGate), (e: unknown) => e instanceof ModelFormatError && /tensor\.blk\.1\.ffn_gate\.weight: missing/.test(e.message));
  const withHead = join(cacheDir(), 'load-errors-gemma-output-head.gguf');
  const d = LOAD_ERRORS_SPEC.dModel;
  const head = new Float32Array(d * LOAD_ERRORS_SPEC.vocabSize).fill(0.01);
  await rewriteGguf(src, withHead, { addTensors: [{ name: 'output.weight', dims: [d, LOAD_ERRORS_SPEC.vocabSize], type: GgmlType.F32, data: new Uint8Array(head.buffer) }] });
  await assert.rejects(loadModel(gpu, withHead), (e: unknown) => e instanceof UnsupportedModelError
    && /tensor output\.weight \(an output head of its own; this architecture ties it to the embedding\)/.test(e.message));
});
