// The model config read from GGUF metadata: what it takes from the keys, and the variants it refuses with
// a typed error naming them (instead of a shape error that would call the file damaged).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { ModelFormatError, UnsupportedModelError } from '../../src/common/errors';
import { configFromMetadata } from '../../src/model/config';
import { syntheticMetadata, type SyntheticSpec } from '../../src/tools/synthesize';

const SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 128, nHeads: 4, nKvHeads: 2, ffnDim: 256, vocabSize: 300, contextLength: 16384,
  ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes',
};
const metaOf = (spec: SyntheticSpec, extra: Record<string, GgufValue> = {}) =>
  new Map<string, GgufValue>([...syntheticMetadata(spec).map((e) => [e.key, e.value] as [string, GgufValue]), ...Object.entries(extra)]);

test('shapes, rope and its scaling come from the metadata', () => {
  const c = configFromMetadata(metaOf({ ...SPEC, ropeScaling: { type: 'linear', factor: 4 } }), 300);
  assert.deepEqual([c.nLayers, c.dModel, c.nHeads, c.nKvHeads, c.headDim, c.nRot, c.ffnDim, c.contextLength], [2, 128, 4, 2, 32, 32, 256, 16384]);
  assert.deepEqual(c.ropeScaling, { type: 'linear', factor: 4, originalContext: 16384, attnFactor: 1 });
  assert.equal(configFromMetadata(metaOf(SPEC), 300).ropeScaling.factor, 1);
});

test('a mixture of experts and value heads of another size are refused as unsupported, naming what they are', () => {
  const qwen2 = { ...SPEC, arch: 'qwen2' } as const;
  assert.throws(() => configFromMetadata(metaOf(qwen2, { 'qwen2.expert_count': 8 }), 300),
    (e: unknown) => e instanceof UnsupportedModelError && /a qwen2 mixture of experts \(8 experts per layer\); Tandem runs experts for llama, deepseek, qwen2moe, qwen3moe and granitemoe/.test(e.message));
  assert.doesNotThrow(() => configFromMetadata(metaOf(qwen2, { 'qwen2.expert_count': 0 }), 300));
  // llama: dense without an expert_count (or with 0), Mixtral's mixture with one, its experts feed_forward_length wide.
  assert.equal(configFromMetadata(metaOf(SPEC, { 'llama.expert_count': 0 }), 300).experts, null);
  assert.equal(configFromMetadata(metaOf(SPEC), 300).experts, null);
  assert.deepEqual(configFromMetadata(metaOf(SPEC, { 'llama.expert_count': 8, 'llama.expert_used_count': 2 }), 300).experts, { count: 8, used: 2, ffnDim: 256, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null });
  assert.throws(() => configFromMetadata(metaOf(SPEC, { 'llama.expert_count': 8 }), 300), (e: unknown) => e instanceof ModelFormatError && /llama\.expert_used_count/.test(e.message));
  assert.throws(() => configFromMetadata(metaOf(SPEC, { 'llama.attention.value_length': 64 }), 300),
    (e: unknown) => e instanceof UnsupportedModelError && /value heads of 64 with key heads of 32/.test(e.message));
  assert.doesNotThrow(() => configFromMetadata(metaOf(SPEC, { 'llama.attention.value_length': 32 }), 300));
});

test('qwen3moe and granitemoe: experts, experts a token and their width from the metadata (qwen3moe: feed_forward_length / used without expert_feed_forward_length, as llama.cpp; granitemoe: feed_forward_length); bad counts are a damaged file', () => {
  const moe: SyntheticSpec = { ...SPEC, arch: 'qwen3moe', headDim: 32, experts: { count: 128, used: 8, ffnDim: 768 } };
  const c = configFromMetadata(metaOf(moe), 300);
  assert.deepEqual(c.experts, { count: 128, used: 8, ffnDim: 768, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null });
  assert.deepEqual([c.qkNorm, c.ropeStyle, c.ffn], [true, 'neox', 'swiglu']);
  const noWidth = new Map([...metaOf(moe)].filter(([key]) => key !== 'qwen3moe.expert_feed_forward_length'));
  assert.equal(configFromMetadata(noWidth, 300).experts!.ffnDim, 256 / 8);
  // Dense architectures have no experts.
  assert.equal(configFromMetadata(metaOf(SPEC), 300).experts, null);
  for (const [extra, pattern] of [
    [{ 'qwen3moe.expert_used_count': 129 }, /expert_used_count.*129 of 128 experts/],
    [{ 'qwen3moe.expert_used_count': 0 }, /0 of 128 experts/],
    [{ 'qwen3moe.expert_count': 0 }, /8 of 0 experts/],
  ] as const) {
    assert.throws(() => configFromMetadata(metaOf(moe, extra), 300), (e: unknown) => e instanceof ModelFormatError && pattern.test(e.message), JSON.stringify(extra));
  }
  // granitemoe: its experts are feed_forward_length wide (llama.cpp reads no expert width there), with granite's scales.
  const gm = configFromMetadata(metaOf({ ...SPEC, arch: 'granitemoe', experts: { count: 40, used: 8, ffnDim: 512 } }, { 'granitemoe.expert_feed_forward_length': 99 }), 300);
  assert.deepEqual([gm.experts, gm.ffnDim, gm.residualScale, gm.logitScale, gm.qkNorm], [{ count: 40, used: 8, ffnDim: 512, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null }, 512, 0.22, 0.125, false]);
  // A shared expert (GraniteMoeShared) when expert_shared_feed_forward_length is > 0; qwen3moe reads no such key.
  const gms = configFromMetadata(metaOf({ ...SPEC, arch: 'granitemoe', experts: { count: 40, used: 8, ffnDim: 512, sharedFfnDim: 1024 } }), 300);
  assert.deepEqual(gms.experts, { count: 40, used: 8, ffnDim: 512, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: { ffnDim: 1024, gated: false } });
  assert.equal(configFromMetadata(metaOf(moe, { 'qwen3moe.expert_shared_feed_forward_length': 64 }), 300).experts?.shared, null);
  // qwen2moe: qwen2 with experts whose weights are not renormalised and a gated shared expert in every
  // layer, as wide as feed_forward_length unless expert_shared_feed_forward_length says otherwise.
  const q2 = configFromMetadata(metaOf({ ...SPEC, arch: 'qwen2moe', experts: { count: 60, used: 4, ffnDim: 1408, sharedFfnDim: 5632 } }), 300);
  assert.deepEqual([q2.experts, q2.ropeStyle], [{ count: 60, used: 4, ffnDim: 1408, normalizeWeights: false, weightsScale: 1, denseLeadingLayers: 0, shared: { ffnDim: 5632, gated: true } }, 'neox']);
  // deepseek: shared experts by count (2 x 1408), a leading dense layer, the weights' scale (absent: 1).
  const ds = configFromMetadata(metaOf({ ...SPEC, arch: 'deepseek', experts: { count: 64, used: 6, ffnDim: 1408, sharedCount: 2, denseLeading: 1, weightsScale: 16 } }), 300);
  assert.deepEqual(ds.experts, { count: 64, used: 6, ffnDim: 1408, normalizeWeights: false, weightsScale: 16, denseLeadingLayers: 1, shared: { ffnDim: 2816, gated: false } });
  assert.equal(configFromMetadata(metaOf({ ...SPEC, arch: 'deepseek', experts: { count: 64, used: 6, ffnDim: 1408, sharedCount: 2 } }), 300).experts?.weightsScale, 1);
  const q2Meta = metaOf({ ...SPEC, arch: 'qwen2moe', experts: { count: 60, used: 4, ffnDim: 1408, sharedFfnDim: 5632 } });
  q2Meta.delete('qwen2moe.expert_shared_feed_forward_length');
  assert.deepEqual(configFromMetadata(q2Meta, 300).experts?.shared, { ffnDim: SPEC.ffnDim, gated: true });
  const missing = new Map([...metaOf(moe)].filter(([key]) => key !== 'qwen3moe.expert_used_count'));
  assert.throws(() => configFromMetadata(missing, 300), (e: unknown) => e instanceof ModelFormatError && /expert_used_count/.test(e.message));
  assert.throws(() => configFromMetadata(metaOf(moe, { 'qwen3moe.expert_count': 1024 }), 300),
    (e: unknown) => e instanceof UnsupportedModelError && /1024 experts per layer \(at most 512\)/.test(e.message));
});

test('each architecture: its rope style and q/k head norms; heads as wide as key_length says, else d / head_count', () => {
  const of = (arch: SyntheticSpec['arch'], extra: Partial<SyntheticSpec> = {}) => configFromMetadata(metaOf({ ...SPEC, arch, ...extra }), 300);
  assert.deepEqual([of('llama').ropeStyle, of('llama').qkNorm], ['normal', false]);
  assert.deepEqual([of('qwen2').ropeStyle, of('qwen2').qkNorm], ['neox', false]);
  // Qwen3 0.6B's shape: 16 heads of 128 on d 1024, so q is twice as wide as the residual stream.
  const q3 = of('qwen3', { dModel: 1024, nHeads: 16, nKvHeads: 8, headDim: 128 });
  assert.deepEqual([q3.ropeStyle, q3.qkNorm, q3.headDim, q3.nRot, q3.nHeads * q3.headDim], ['neox', true, 128, 128, 2048]);
  // d 100 over 3 heads: only with key_length.
  assert.throws(() => of('llama', { dModel: 100, nHeads: 3, nKvHeads: 1 }),
    (e: unknown) => e instanceof UnsupportedModelError && /embedding_length 100 is not a multiple of head_count 3, and no attention.key_length/.test(e.message));
  assert.equal(of('qwen3', { dModel: 100, nHeads: 3, nKvHeads: 1, headDim: 32 }).headDim, 32);
  const sc2 = of('starcoder2');
  assert.deepEqual([sc2.ropeStyle, sc2.qkNorm, sc2.norm, sc2.ffn], ['neox', false, 'layer', 'gelu']);
  assert.deepEqual([sc2.positions, sc2.qkv, of('llama').positions, of('llama').qkv], ['rope', 'split', 'rope', 'split']);
  // StarCoder: starcoder2's norms and FFN, a learned position embedding of context_length rows (nothing
  // rotates, whatever a rope key says), a fused qkv; context_length is required (it sizes that table).
  const sc = of('starcoder', { nKvHeads: 1 });
  assert.deepEqual([sc.norm, sc.ffn, sc.positions, sc.qkv, sc.nRot, sc.nKvHeads, sc.contextLength], ['layer', 'gelu', 'learned', 'fused', 0, 1, 16384]);
  assert.equal(configFromMetadata(metaOf({ ...SPEC, arch: 'starcoder' }, { 'starcoder.rope.dimension_count': 32 }), 300).nRot, 0);
  const noContext = metaOf({ ...SPEC, arch: 'starcoder' });
  noContext.delete('starcoder.context_length');
  assert.throws(() => configFromMetadata(noContext, 300), (e: unknown) => e instanceof ModelFormatError && /starcoder\.context_length/.test(e.message));
  assert.throws(() => configFromMetadata(metaOf({ ...SPEC, arch: 'starcoder' }, { 'starcoder.context_length': 0 }), 300),
    (e: unknown) => e instanceof ModelFormatError && /starcoder\.context_length: 0 rows of position embedding/.test(e.message));
  // ChatGLM (GLM-4, CodeGeeX4): llama's norms and SwiGLU, a fused qkv, rope on adjacent pairs of rope.dimension_count dims.
  const glm = of('chatglm', { nRot: 16 });
  assert.deepEqual([glm.norm, glm.ffn, glm.qkv, glm.ropeStyle, glm.nRot, glm.headDim], ['rms', 'swiglu', 'fused', 'normal', 16, 32]);
  // Phi-2: LayerNorm, GELU, NeoX rope on part of each head, attention and FFN side by side.
  const phi2 = of('phi2', { nRot: 8 });
  assert.deepEqual([phi2.norm, phi2.ffn, phi2.ropeStyle, phi2.nRot, phi2.parallelResidual, of('llama').parallelResidual], ['layer', 'gelu', 'neox', 8, true, false]);
  // Refact: llama's norms and FFN with ALiBi (maximum bias 8, as llama.cpp hard-codes it): nothing rotates, whatever a rope key says.
  const refact = of('refact', { nKvHeads: 1 });
  assert.deepEqual([refact.norm, refact.ffn, refact.positions, refact.alibiMaxBias, refact.nRot, refact.qkv], ['rms', 'swiglu', 'alibi', 8, 0, 'split']);
  assert.equal(configFromMetadata(metaOf({ ...SPEC, arch: 'refact' }, { 'refact.rope.dimension_count': 32 }), 300).nRot, 0);
  assert.deepEqual([of('llama').alibiMaxBias, sc.alibiMaxBias], [0, 0]);
  // LayerNorm's eps has its own key; the RMSNorm key is not read for it.
  assert.equal(configFromMetadata(metaOf({ ...SPEC, arch: 'starcoder2' }, { 'starcoder2.attention.layer_norm_epsilon': 2e-5, 'starcoder2.attention.layer_norm_rms_epsilon': 0.5 }), 300).normEps, 2e-5);
  assert.deepEqual([of('llama').norm, of('llama').ffn], ['rms', 'swiglu']);
  // Gemma: GeGLU, and the embedding times sqrt(d) rounded to f32 as llama.cpp's sqrtf gives it (d 3072: 55.42562...).
  const gemma = of('gemma', { dModel: 3072, nHeads: 16, nKvHeads: 16, headDim: 256 });
  assert.deepEqual([gemma.ropeStyle, gemma.norm, gemma.ffn, gemma.headDim, gemma.embeddingScale], ['neox', 'rms', 'geglu', 256, Math.fround(Math.sqrt(3072))]);
  assert.deepEqual([of('llama').embeddingScale, of('qwen2').embeddingScale], [1, 1]);
  // Granite: its four scalars (the logits are multiplied by 1 / logit_scale in f32); elsewhere none.
  const granite = of('granite');
  assert.deepEqual([granite.ropeStyle, granite.embeddingScale, granite.residualScale, granite.attentionScale, granite.logitScale], ['normal', 12, 0.22, 0.015625, 0.125]);
  assert.deepEqual([of('llama').residualScale, of('llama').attentionScale, of('llama').logitScale], [1, 1 / Math.sqrt(32), 1]);
  // StableLM: LayerNorm (its eps key), SwiGLU, NeoX rope on rope.dimension_count of each head's dims.
  const slm = of('stablelm', { nRot: 8 });
  assert.deepEqual([slm.norm, slm.ffn, slm.ropeStyle, slm.headDim, slm.nRot, slm.normEps], ['layer', 'swiglu', 'neox', 32, 8, 1e-5]);
  // 0 is no scaling, as in llama.cpp; a logit_scale of 0 is a damaged file; no rope is not something we run.
  const g0 = configFromMetadata(metaOf({ ...SPEC, arch: 'granite' }, { 'granite.residual_scale': 0, 'granite.attention.scale': 0 }), 300);
  assert.deepEqual([g0.residualScale, g0.attentionScale], [1, 1 / Math.sqrt(32)]);
  assert.throws(() => configFromMetadata(metaOf({ ...SPEC, arch: 'granite' }, { 'granite.logit_scale': 0 }), 300),
    (e: unknown) => e instanceof ModelFormatError && /granite\.logit_scale: 0 is not a scale/.test(e.message));
  assert.throws(() => configFromMetadata(metaOf({ ...SPEC, arch: 'granite' }, { 'granite.rope.scaling.finetuned': false }), 300),
    (e: unknown) => e instanceof UnsupportedModelError && /attention without rope/.test(e.message));
  assert.throws(() => configFromMetadata(metaOf(SPEC, { 'general.architecture': 'gemma3' }), 300),
    (e: unknown) => e instanceof UnsupportedModelError && /architecture 'gemma3' \(supported: llama, deepseek, qwen2, qwen2moe, qwen3, qwen3moe, starcoder, starcoder2, phi2, chatglm, refact, gemma, stablelm, granite, granitemoe\)/.test(e.message));
});
