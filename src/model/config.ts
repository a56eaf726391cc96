// Hyper-parameters of a Llama/DeepSeek-MoE/Qwen2/Qwen2-MoE/Qwen3/Qwen3-MoE/StarCoder/StarCoder2/Refact/Phi-2/ChatGLM/Gemma/Granite/Granite-MoE/StableLM-family decoder, read from GGUF
// metadata (llama.cpp's key names), and what sets the architectures apart (ARCHITECTURES).

import { ModelFormatError, UnsupportedModelError } from '../common/errors';
import { archKey, metaF32, metaString, metaU32, type GgufMetadata } from '../loaders/gguf/metadata';
import { ropeScalingFromMetadata, type RopeScaling } from './ropeScaling';

export type Architecture = 'llama' | 'deepseek' | 'qwen2' | 'qwen2moe' | 'qwen3' | 'qwen3moe' | 'starcoder' | 'starcoder2' | 'refact' | 'phi2' | 'chatglm' | 'gemma' | 'granite' | 'granitemoe' | 'stablelm';

/** 'swiglu': down(silu(gate) · up); 'geglu': down(gelu(gate) · up); 'gelu': down(gelu(up)), no gate. */
export type FfnKind = 'swiglu' | 'geglu' | 'gelu';

/** What llama.cpp's graph for each architecture does differently; everything else is shared. */
export interface ArchitectureTraits {
  /** 'normal' rotates adjacent pairs; 'neox' rotates (i, i + nRot/2). */
  ropeStyle: 'normal' | 'neox';
  /** Per-head RMSNorm of q and k before the rotation (attn_q_norm / attn_k_norm, [headDim] each). */
  qkNorm: boolean;
  /** 'rms': RMSNorm (weight); 'layer': LayerNorm (weight and bias, `<norm>.bias`), its eps under attention.layer_norm_epsilon. */
  norm: 'rms' | 'layer';
  ffn: FfnKind;
  /** The token embedding is multiplied by sqrt(d) before the first layer (gemma). */
  scaleEmbedding: boolean;
  /** The output head is always the token embedding; an `output.weight` is not read (gemma). */
  tiedOutput: boolean;
  /**
   * Granite's scalars from the metadata: embedding_scale (the embedding), residual_scale (each branch's
   * output before it joins the residual stream), attention.scale (q·k instead of 1/sqrt(head dim)) and
   * logit_scale (the logits are divided by it); each absent or 0 is no scaling, but logit_scale is required.
   */
  scalars: boolean;
  /** Layer biases the graph adds when the file has them (`blk.N.<name>.bias`). */
  optionalBiases: readonly string[];
  /** Layer biases every file has. */
  requiredBiases: readonly string[];
  /** Llama 3's per-frequency rope divisors (`rope_freqs.weight`) are read when present. */
  ropeFreqs: boolean;
  /**
   * Every layer's FFN is a mixture of SwiGLU experts (MixtureOfExperts), each as wide as this key says:
   * qwen3moe's expert_feed_forward_length (else feed_forward_length / used, as llama.cpp), granitemoe's and
   * llama's (Mixtral) feed_forward_length. null: a dense FFN.
   */
  expertWidth: 'expert_feed_forward_length' | 'feed_forward_length' | null;
  /** The FFNs are experts only when the file has an expert_count > 0, else dense (llama: Mixtral's files are 'llama'). */
  expertsOptional?: boolean;
  /**
   * A shared expert, a SwiGLU FFN every token takes, added to the routed experts' sum. 'announced': when the
   * file's expert_shared_feed_forward_length is > 0, ungated (granitemoe: GraniteMoeShared's files);
   * 'gated': always, expert_shared_feed_forward_length (else feed_forward_length) wide, its output scaled
   * by sigmoid(h · ffn_gate_inp_shexp) per token (qwen2moe); 'counted': always, expert_shared_count experts
   * of the routed width side by side, ungated (deepseek). Absent: none.
   */
  sharedExpert?: 'announced' | 'gated' | 'counted';
  /**
   * DeepSeek's mixture: the first leading_dense_block_count layers have a dense FFN of feed_forward_length,
   * and the routed weights are multiplied by expert_weights_scale (absent or 0: 1).
   */
  deepseekMoe?: boolean;
  /** The k routed weights are the softmax probabilities as they are, not divided by their sum (qwen2moe's norm_w false). */
  rawExpertWeights?: boolean;
  /**
   * 'rope': q and k are rotated by position; 'learned': a row of the position embedding
   * (`position_embd.weight`, [context_length][d]) is added to each token's embedding, and nothing rotates
   * (starcoder); 'alibi': nothing rotates, and each head's scores get a linear bias by distance (refact).
   */
  positions: PositionEncoding;
  /**
   * 'split': attn_q, attn_k, attn_v; 'fused': one attn_qkv matrix [q | k | v] with its bias: what the family's
   * converter writes. llama.cpp's loaders take either layout (create_tensor_qkv) for every family but
   * starcoder (qkvFusedOnly), and so does Tandem: the file decides (qkvLayoutOf).
   */
  qkv: 'split' | 'fused';
  /** q|k|v only as one attn_qkv (starcoder's loader has no other); elsewhere split files load too. */
  qkvFusedOnly?: boolean;
  /**
   * Attention and FFN both read the attention norm's output and add to the residual stream side by side:
   * x += attn(norm(x)) + ffn(norm(x)); there is no ffn_norm (phi2).
   */
  parallelResidual?: boolean;
  /** The output head has a bias (`output.bias`, [vocab]), which every file has (phi2). */
  outputBias?: boolean;
  /** The FFN's gate and up are one tensor, ffn_up of 2 x feed_forward_length rows [gate | up] (chatglm), not ffn_gate and ffn_up. */
  gateUpFused?: boolean;
}

/** How a model tells positions apart (ArchitectureTraits.positions). */
export type PositionEncoding = 'rope' | 'learned' | 'alibi';

/**
 * ALiBi's maximum bias: head h of n adds -slope_h (p - j) to the score of query p on key j, slopes
 * 2^(-8 (h + 1) / n) for n a power of two (alibiSlopes). llama.cpp's refact graph hard-codes 8, and reads no key.
 */
export const REFACT_ALIBI_MAX_BIAS = 8;

const QKV_BIASES = ['attn_q', 'attn_k', 'attn_v'] as const;

/**
 * As in llama.cpp's loaders and graphs (src/models/{llama,qwen2,qwen2moe,qwen3,qwen3moe,starcoder,starcoder2,refact,gemma,granite,stablelm}.cpp): llama adds any of
 * seven biases (none of the common models has one); qwen2 has q|k|v biases (its real files all do) and qwen3
 * none, but both loaders take q|k|v biases when present; qwen3 normalises each head of q and k; starcoder2
 * has LayerNorms with biases, a GELU FFN without a gate, and biases on the attention output and the FFN;
 * gemma (Gemma 1, CodeGemma) scales the embedding by sqrt(d), gates its FFN with GELU and always ties its
 * output head (its converter stores RMSNorm weights as 1 + w, so the norms are plain RMSNorms); granite
 * (Granite 3.x dense) is llama with four scalars and the same optional biases; stablelm (Stable Code 3B,
 * StableLM 2 1.6B) has LayerNorms with biases, a SwiGLU FFN, optional q|k|v biases and NeoX rope on part of
 * each head (weights.ts refuses its parallel-residual variant, StableLM 2 12B); qwen3moe (Qwen3-Coder
 * 30B-A3B) is qwen3 with a mixture of SwiGLU experts for every FFN (src/models/qwen3moe.cpp); granitemoe
 * (Granite 3.x 1B-A400M, 3B-A800M) is granite with such a mixture (src/models/granite-moe.cpp, which
 * builds granite's graph), q|k|v and attention-output biases optional, its residual scale on the mixture
 * (and on a shared expert, GraniteMoeShared's, when expert_shared_feed_forward_length says it has one);
 * starcoder (StarCoder 1B-15B, StarCoderBase, Tabby's StarCoder-1B/3B/7B; GPT-BigCode) has starcoder2's
 * LayerNorms and GELU FFN, learned absolute positions instead of rope, one fused attn_qkv matrix, and a
 * bias on every projection (src/models/starcoder.cpp); refact (Refact-1.6B) is llama's RMSNorms and SwiGLU
 * with ALiBi instead of rope, multi-query attention and optional q|k|v biases (src/models/refact.cpp: its
 * loader takes attention-output and FFN biases too, but the graph never adds them, so a file with them is
 * refused as having tensors Tandem would not read); a llama file with an expert_count (Mixtral 8x7B,
 * 8x22B) has qwen3moe's mixture in every layer instead of the dense FFN, each expert feed_forward_length
 * wide, and no FFN biases (src/models/llama.cpp's MoE branch); qwen2moe (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B)
 * is qwen2 with a mixture whose k weights are the softmax probabilities undivided, and a shared expert in
 * every layer gated per token by sigmoid(h · ffn_gate_inp_shexp) (src/models/qwen2moe.cpp); phi2 (Phi-1,
 * Phi-1.5, Phi-2) has starcoder2's LayerNorms, GELU FFN and biases with NeoX rope on part of each head, the
 * attention and the FFN reading one norm side by side, and a bias on the output head (src/models/phi2.cpp;
 * its loader also takes one fused attn_qkv, as the first Phi-2 conversions had, which Tandem refuses by name);
 * chatglm (GLM-4-9B, CodeGeeX4-ALL-9B, ChatGLM3-6B) is llama's RMSNorms and SwiGLU with one fused attn_qkv
 * (its bias optional), gate and up fused in one ffn_up of 2 x feed_forward_length rows, and rope on
 * adjacent pairs of the first rope.dimension_count dims of each head (src/models/chatglm.cpp); deepseek
 * (DeepSeek-MoE 16B) is llama's attention with dense FFNs in its first leading_dense_block_count layers and
 * in the others a mixture whose weights are the softmax probabilities undivided, times expert_weights_scale,
 * beside expert_shared_count shared experts as one ungated SwiGLU FFN (src/models/deepseek.cpp).
 */
const LLAMA_BIASES = [...QKV_BIASES, 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

export const ARCHITECTURES: Record<Architecture, ArchitectureTraits> = {
  llama: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: LLAMA_BIASES, requiredBiases: [], ropeFreqs: true, expertWidth: 'feed_forward_length', expertsOptional: true, positions: 'rope', qkv: 'split' },
  deepseek: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: 'expert_feed_forward_length', sharedExpert: 'counted', rawExpertWeights: true, deepseekMoe: true, positions: 'rope', qkv: 'split' },
  qwen2: { ropeStyle: 'neox', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split' },
  qwen2moe: { ropeStyle: 'neox', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: 'expert_feed_forward_length', sharedExpert: 'gated', rawExpertWeights: true, positions: 'rope', qkv: 'split' },
  qwen3: { ropeStyle: 'neox', qkNorm: true, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split' },
  qwen3moe: { ropeStyle: 'neox', qkNorm: true, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: 'expert_feed_forward_length', positions: 'rope', qkv: 'split' },
  starcoder: { ropeStyle: 'normal', qkNorm: false, norm: 'layer', ffn: 'gelu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: [], requiredBiases: ['attn_qkv', 'attn_output', 'ffn_up', 'ffn_down'], ropeFreqs: false, expertWidth: null, positions: 'learned', qkv: 'fused', qkvFusedOnly: true },
  starcoder2: { ropeStyle: 'neox', qkNorm: false, norm: 'layer', ffn: 'gelu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: ['attn_output', 'ffn_up', 'ffn_down'], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split' },
  phi2: { ropeStyle: 'neox', qkNorm: false, norm: 'layer', ffn: 'gelu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: ['attn_output', 'ffn_up', 'ffn_down'], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split', parallelResidual: true, outputBias: true },
  chatglm: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: ['attn_qkv'], requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'fused', gateUpFused: true },
  refact: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'alibi', qkv: 'split' },
  gemma: { ropeStyle: 'neox', qkNorm: false, norm: 'rms', ffn: 'geglu', scaleEmbedding: true, tiedOutput: true, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split' },
  stablelm: { ropeStyle: 'neox', qkNorm: false, norm: 'layer', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: false, optionalBiases: QKV_BIASES, requiredBiases: [], ropeFreqs: false, expertWidth: null, positions: 'rope', qkv: 'split' },
  granite: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: true, optionalBiases: LLAMA_BIASES, requiredBiases: [], ropeFreqs: true, expertWidth: null, positions: 'rope', qkv: 'split' },
  granitemoe: { ropeStyle: 'normal', qkNorm: false, norm: 'rms', ffn: 'swiglu', scaleEmbedding: false, tiedOutput: false, scalars: true, optionalBiases: [...QKV_BIASES, 'attn_output'], requiredBiases: [], ropeFreqs: true, expertWidth: 'feed_forward_length', sharedExpert: 'announced', positions: 'rope', qkv: 'split' },
};

export interface ModelConfig {
  architecture: Architecture;
  name: string;
  nLayers: number;
  /** Residual stream width d. */
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /**
   * Rotated dims per head (rope.dimension_count; = headDim for most families, 0 with learned positions or ALiBi).
   * nHeads headDim may differ from dModel (Qwen3: 16 x 128 on d 1024).
   */
  nRot: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
  ropeTheta: number;
  /** 'normal' rotates adjacent pairs (llama, granite); 'neox' rotates (i, i + nRot/2) (qwen2, qwen3, starcoder2, gemma, stablelm). */
  ropeStyle: 'normal' | 'neox';
  /** Long-context rope scaling (linear, YaRN), as llama.cpp reads it; per-frequency factors are a tensor (weights.ts). */
  ropeScaling: RopeScaling;
  normEps: number;
  /** Attention span in tokens when the model uses sliding-window attention, else 0. */
  slidingWindow: number;
  /** Each head of q and k is RMS-normalised (weights [headDim]) before the rotation (qwen3). */
  qkNorm: boolean;
  /** RMSNorm, or LayerNorm with biases (starcoder2, stablelm). */
  norm: 'rms' | 'layer';
  /** Gated SiLU FFN, gated GELU FFN (gemma), or up -> GELU -> down (starcoder2). */
  ffn: FfnKind;
  /** What the token embedding is multiplied by before the first layer: sqrt(d) in f32 (gemma), granite's embedding_scale, else 1. */
  embeddingScale: number;
  /** What each attention and FFN output is multiplied by before it is added to the residual stream (granite; else 1). */
  residualScale: number;
  /** What q·k is multiplied by before the softmax: 1/sqrt(headDim) unless granite's attention.scale says otherwise. */
  attentionScale: number;
  /** What the logits are multiplied by: 1 / granite's logit_scale in f32, else 1. */
  logitScale: number;
  /** The FFN's experts (qwen2moe, qwen3moe, granitemoe, llama with expert_count), or null for a dense FFN of ffnDim. */
  experts: MixtureOfExperts | null;
  /**
   * Rope; a learned position embedding of contextLength rows added to the token embedding (starcoder; nRot
   * is 0); or ALiBi (refact; nRot is 0), the slopes' maximum bias in alibiMaxBias.
   */
  positions: PositionEncoding;
  /** ALiBi's maximum bias (REFACT_ALIBI_MAX_BIAS), or 0 without ALiBi. */
  alibiMaxBias: number;
  /** q|k|v as three matrices, or as one fused attn_qkv (starcoder's always; others' where the file has it, qkvLayoutOf). */
  qkv: 'split' | 'fused';
  /** x += attn(norm(x)) + ffn(norm(x)), one norm per layer (phi2), rather than the FFN normalising x after the attention's add. */
  parallelResidual: boolean;
}

/**
 * A mixture-of-experts FFN as llama.cpp's build_moe_ffn runs it for qwen2moe, qwen3moe, granitemoe and llama: router
 * logits h · Wrᵀ ([count]), their softmax, the `used` most probable experts (in descending order), their
 * probabilities divided by their sum (clamped to >= 6.1e-5; not qwen2moe's), and out = Σ_j w_j ·
 * down_j(silu(gate_j h) · up_j h) in that order. Each expert is a SwiGLU FFN of ffnDim; a shared expert
 * adds its own FFN's output after them.
 */
export interface MixtureOfExperts {
  count: number;
  used: number;
  ffnDim: number;
  /** The k weights divided by their sum (true but for qwen2moe and deepseek, whose weights are the softmax probabilities as they are). */
  normalizeWeights: boolean;
  /** What the k weights are multiplied by (deepseek's expert_weights_scale; else 1). */
  weightsScale: number;
  /** The first this many layers have a dense FFN of ModelConfig.ffnDim instead (deepseek's leading_dense_block_count; else 0). */
  denseLeadingLayers: number;
  /**
   * A shared expert, a SwiGLU FFN (ffn_{gate,up,down}_shexp) of ffnDim that every token takes, its output
   * added to the routed experts'; `gated`: scaled by sigmoid(h · ffn_gate_inp_shexp) first (qwen2moe). null: none.
   */
  shared: { ffnDim: number; gated: boolean } | null;
}

/** Layer l's mixture of experts, or null where its FFN is dense (a dense model, deepseek's leading dense layers). */
export function layerExperts(c: ModelConfig, l: number): MixtureOfExperts | null {
  return c.experts && l >= c.experts.denseLeadingLayers ? c.experts : null;
}

/** The most experts a layer may have (the route kernel keeps one bit per expert in 16 words). */
export const MAX_EXPERTS = 512;

export function configFromMetadata(meta: GgufMetadata, vocabSize: number, file?: string): ModelConfig {
  const archName = metaString(meta, 'general.architecture', { file });
  if (!Object.hasOwn(ARCHITECTURES, archName)) throw new UnsupportedModelError(`architecture '${archName}' (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  const architecture = archName as Architecture;
  const traits = ARCHITECTURES[architecture];
  const k = (s: string) => archKey(archName, s);
  const dModel = metaU32(meta, k('embedding_length'), { file });
  const nHeads = metaU32(meta, k('attention.head_count'), { file });
  const nKvHeads = metaU32(meta, k('attention.head_count_kv'), { default: nHeads, file });
  if (nHeads === 0) throw new UnsupportedModelError('head_count 0');
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) throw new UnsupportedModelError(`head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`);
  const experts = expertsOf(meta, archName, traits, file);
  // Heads are d / head_count wide unless key_length says otherwise (Qwen3: 128 on d 1024 with 16 heads).
  if (meta.get(k('attention.key_length')) === undefined && dModel % nHeads !== 0) {
    throw new UnsupportedModelError(`embedding_length ${dModel} is not a multiple of head_count ${nHeads}, and no attention.key_length`);
  }
  const headDim = metaU32(meta, k('attention.key_length'), { default: dModel / nHeads, file });
  // llama.cpp allows value heads of another size than key heads; our attention kernels do not.
  const valueDim = metaU32(meta, k('attention.value_length'), { default: headDim, file });
  if (valueDim !== headDim) throw new UnsupportedModelError(`value heads of ${valueDim} with key heads of ${headDim}`);
  // A learned position embedding or ALiBi: nothing rotates (llama.cpp's starcoder and refact graphs read no rope key).
  const nRot = traits.positions !== 'rope' ? 0 : metaU32(meta, k('rope.dimension_count'), { default: headDim, file });
  // The attention kernels read heads as vec4s.
  if (headDim % 4 !== 0 || nRot % 2 !== 0 || nRot > headDim) throw new UnsupportedModelError(`head dim ${headDim} / rope dims ${nRot}`);
  if (headDim > 256) throw new UnsupportedModelError(`head dim ${headDim} > 256`);
  // The position embedding has a row per position of context_length: required there, as in llama.cpp.
  const contextLength = metaU32(meta, k('context_length'), { file, ...(traits.positions === 'learned' ? {} : { default: 4096 }) });
  if (traits.positions === 'learned' && contextLength < 1) throw new ModelFormatError(k('context_length'), '0 rows of position embedding', file);
  return {
    architecture,
    name: metaString(meta, 'general.name', { default: archName }),
    nLayers: metaU32(meta, k('block_count'), { file }),
    dModel,
    nHeads,
    nKvHeads,
    headDim,
    nRot,
    // Qwen3-MoE files have a (dense-equivalent, unused) feed_forward_length too; llama.cpp does not require it there.
    ffnDim: metaU32(meta, k('feed_forward_length'), { file, ...(experts ? { default: experts.ffnDim * experts.used } : {}) }),
    vocabSize,
    contextLength,
    ropeTheta: metaF32(meta, k('rope.freq_base'), { default: 10000, file }),
    ropeStyle: traits.ropeStyle,
    ropeScaling: ropeScalingFromMetadata(meta, archName, contextLength, file),
    normEps: metaF32(meta, k(traits.norm === 'layer' ? 'attention.layer_norm_epsilon' : 'attention.layer_norm_rms_epsilon'), { default: 1e-5, file }),
    slidingWindow: metaU32(meta, k('attention.sliding_window'), { default: 0, file }),
    qkNorm: traits.qkNorm,
    norm: traits.norm,
    ffn: traits.ffn,
    ...scalarsOf(meta, archName, traits, dModel, headDim, file),
    experts,
    positions: traits.positions,
    alibiMaxBias: traits.positions === 'alibi' ? REFACT_ALIBI_MAX_BIAS : 0,
    qkv: traits.qkv,
    parallelResidual: traits.parallelResidual ?? false,
  };
}

/**
 * The q|k|v layout of a file: one attn_qkv where layer 0 has it (the first Phi-2 conversions, some
 * ChatGLM ones), else three tensors, as llama.cpp's create_tensor_qkv decides; starcoder's is always fused.
 * A layer laid out otherwise than layer 0 is refused by the every-tensor-read check.
 */
export function qkvLayoutOf(config: ModelConfig, hasTensor: (name: string) => boolean): ModelConfig['qkv'] {
  if (ARCHITECTURES[config.architecture].qkvFusedOnly) return 'fused';
  return hasTensor('blk.0.attn_qkv.weight') ? 'fused' : 'split';
}

/** The experts of a qwen3moe, granitemoe or Mixtral-style llama file (null for dense files; dense architectures refuse an expert_count). */
function expertsOf(meta: GgufMetadata, archName: string, traits: ArchitectureTraits, file?: string): MixtureOfExperts | null {
  const k = (s: string) => archKey(archName, s);
  const count = metaU32(meta, k('expert_count'), { default: 0, file });
  if (!traits.expertWidth) {
    // Experts in a dense architecture are tensors its forward pass would not read.
    if (count > 0) throw new UnsupportedModelError(`a ${archName} mixture of experts (${count} experts per layer); Tandem runs experts for ${EXPERT_ARCHITECTURES}`);
    return null;
  }
  if (traits.expertsOptional && count === 0) return null;
  const used = metaU32(meta, k('expert_used_count'), { file });
  if (count < 1 || used < 1 || used > count) throw new ModelFormatError(k('expert_used_count'), `${used} of ${count} experts`, file);
  if (count > MAX_EXPERTS) throw new UnsupportedModelError(`${count} experts per layer (at most ${MAX_EXPERTS})`);
  // llama.cpp's qwen3moe, granitemoe and llama graphs route by softmax and read neither expert_gating_func
  // nor expert_weights_scale. A shared expert's tensors in an architecture without one are refused by name (weights.ts).
  const ffn = () => metaU32(meta, k('feed_forward_length'), { file });
  const ffnDim = traits.expertWidth === 'feed_forward_length' ? ffn() : metaU32(meta, k('expert_feed_forward_length'), { default: 0, file }) || Math.floor(ffn() / used);
  if (ffnDim < 1) throw new ModelFormatError(k(traits.expertWidth), `${ffnDim}`, file);
  // A shared expert (granitemoe's when announced; qwen2moe's always, as wide as the dense FFN by default;
  // deepseek's expert_shared_count experts side by side, always).
  const sharedFfnDim = !traits.sharedExpert ? 0
    : traits.sharedExpert === 'counted' ? metaU32(meta, k('expert_shared_count'), { file }) * ffnDim
      : metaU32(meta, k('expert_shared_feed_forward_length'), { default: traits.sharedExpert === 'gated' ? ffn() : 0, file });
  if ((traits.sharedExpert === 'gated' || traits.sharedExpert === 'counted') && sharedFfnDim < 1) {
    throw new ModelFormatError(k(traits.sharedExpert === 'gated' ? 'expert_shared_feed_forward_length' : 'expert_shared_count'), '0', file);
  }
  const shared = sharedFfnDim > 0 ? { ffnDim: sharedFfnDim, gated: traits.sharedExpert === 'gated' } : null;
  const weightsScale = traits.deepseekMoe ? metaF32(meta, k('expert_weights_scale'), { default: 0, file }) || 1 : 1;
  const denseLeadingLayers = traits.deepseekMoe ? metaU32(meta, k('leading_dense_block_count'), { default: 0, file }) : 0;
  return { count, used, ffnDim, normalizeWeights: !traits.rawExpertWeights, weightsScale, denseLeadingLayers, shared };
}

/** The architectures whose FFNs may be mixtures of experts. */
const EXPERT_ARCHITECTURES = Object.entries(ARCHITECTURES).filter(([, t]) => t.expertWidth).map(([a]) => a).join(', ').replace(/, ([^,]+)$/, ' and $1');

/** The embedding, residual, attention and logit scales (ModelConfig), as llama.cpp's graphs apply them. */
function scalarsOf(meta: GgufMetadata, archName: string, traits: ArchitectureTraits, dModel: number, headDim: number, file?: string) {
  const k = (s: string) => archKey(archName, s);
  const plain = { embeddingScale: traits.scaleEmbedding ? Math.fround(Math.sqrt(dModel)) : 1, residualScale: 1, attentionScale: 1 / Math.sqrt(headDim), logitScale: 1 };
  if (!traits.scalars) return plain;
  // A scale of 0 means none (llama.cpp skips it), except logit_scale, which it divides by.
  const optional = (key: string) => metaF32(meta, k(key), { default: 0, file }) || undefined;
  const logit = metaF32(meta, k('logit_scale'), { file });
  if (!(Number.isFinite(logit) && logit !== 0)) throw new ModelFormatError(k('logit_scale'), `${logit} is not a scale to divide the logits by`, file);
  // Granite turns rope off with rope.scaling.finetuned = false (Granite 4's NoPE layers); our attention always rotates.
  if (meta.get(k('rope.scaling.finetuned')) === false) throw new UnsupportedModelError(`${k('rope.scaling.finetuned')} false (attention without rope)`);
  return {
    embeddingScale: optional('embedding_scale') ?? 1,
    residualScale: optional('residual_scale') ?? 1,
    attentionScale: optional('attention.scale') ?? plain.attentionScale,
    logitScale: Math.fround(1 / logit),
  };
}
