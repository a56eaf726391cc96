// Random-weight Llama/DeepSeek-MoE/Qwen2/Qwen2-MoE/Qwen3/Qwen3-MoE/StarCoder/StarCoder2/Refact/Phi-2/ChatGLM/Gemma/Granite/Granite-MoE/StableLM GGUFs for tests and benchmarks, any size,
// written tensor by tensor in chunks (a 0.5B model in Q8_0 never has more than one chunk of f32 values in memory).
// Weights are uniform with std 1/sqrt(fanIn) so activations stay O(1) through the layers; the
// residual-branch outputs (attn_output, ffn_down) are further scaled by 1/sqrt(2*nLayers) so the
// residual stream does not grow with depth; norm weights are 1 +- 0.1; qwen2 biases are F32, small.
// qwen3's q and k projections are 4x larger, as a trained model's are before its per-head q/k norms
// (weights 1 +- 0.5), so a forward pass without those norms would be far off. starcoder2 has LayerNorms
// (biases +- 0.3), an up/GELU/down FFN and a bias on every projection (std 0.1). gemma ties its output
// head to the embedding, which its graph scales by sqrt(d): embedding rows have std 1/sqrt(d) (so the
// scaled rows have std 1, as the other families' first layers see), and the final norm's weights are
// centred on 0 with std outputScale (so a token's own embedding does not dominate its logits, as it
// would with weights near 1, and outputScale peaks the distributions as it does for an output head).
// granite writes its four scalars (graniteScales, default GRANITE_SCALES) and divides its embedding rows
// by embedding_scale, so the scaled rows have std 1 too. stablelm has starcoder2's LayerNorms (its biases
// too) with llama's gated FFN and no other biases; `nRot` rotates part of each head, as Stable Code does.
// qwen3moe is qwen3, granitemoe granite, and a llama spec with `experts` Mixtral, each with `experts` SwiGLU experts per layer: an F32 router (std
// routerScale/sqrt(d), default 4, so a token's routing is not a near-tie) and expert matrices
// [E][rows][cols] drawn as the dense ones (granitemoe's expert width is its feed_forward_length), and for
// granitemoe with `sharedFfnDim` a shared expert's three matrices after them, drawn as a dense FFN's.
// qwen2moe is qwen2 (its q|k|v biases too) with such a mixture and a shared expert in every layer (its
// width `sharedFfnDim`, required there), gated by an F32 vector ffn_gate_inp_shexp [d] of std 2/sqrt(d) (a
// gate logit of std ~2, so the sigmoid spans most of (0, 1) across tokens). deepseek is llama's layers, the
// first `denseLeading` with a dense FFN of ffnDim, the others with such a mixture beside `sharedCount` shared
// experts (one FFN of sharedCount x the expert width) and expert_weights_scale `weightsScale`.
// starcoder is starcoder2's LayerNorms, GELU FFN and biases with one fused attn_qkv matrix (its bias one
// vector) and a learned position embedding instead of rope: [contextLength][d] rows of std 0.5 (F16 in
// F16 files, else F32, as llama.cpp's converter and quantizer leave it), large enough that a forward pass
// without them is far off; its files carry no rope keys. refact is llama's layers without rope keys or
// biases: ALiBi, which the engine applies from the head count alone, stands in for positions. phi2 has
// starcoder2's LayerNorms, GELU FFN and projection biases, no ffn_norm (attention and FFN share the
// attention norm), and an output head with a bias (std 0.5, large enough to move the top tokens). chatglm
// is llama's layers with a fused attn_qkv and its bias (std 0.1) and one ffn_up of [gate | up] rows.
import { GgmlType, GgufValueType, type GgufMetadataEntry } from '../loaders/gguf/types';
import { writeGguf, type GgufTensorToWrite } from '../loaders/gguf/writer';
import { isQuantizedWeightType, tensorType, WEIGHT_TYPES, type WeightTypeName } from '../loaders/llama2c';
import { quantizeTensor } from '../loaders/quant/tensor';
import { hfTokenizerToGguf, qwen2TokenizerJsonPath } from './hfTokenizerToGguf';
import { Xoshiro128 } from './prng';
import { ARCHITECTURES } from '../model/config';
import { spmBytesVocab } from './spmVocab';

/** Bumped whenever the output for a given spec changes (cached test models are rebuilt). */
export const SYNTHESIZER_VERSION = 2;

export interface SyntheticSpec {
  arch: 'llama' | 'deepseek' | 'qwen2' | 'qwen2moe' | 'qwen3' | 'qwen3moe' | 'starcoder' | 'starcoder2' | 'refact' | 'phi2' | 'chatglm' | 'gemma' | 'granite' | 'granitemoe' | 'stablelm';
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  /** Head width, written as attention.key_length / value_length (default dModel / nHeads, not written). */
  headDim?: number;
  /** Rotated dims per head, rope.dimension_count (default the head width). */
  nRot?: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
  ropeTheta: number;
  tiedEmbedding: boolean;
  weightType: WeightTypeName;
  seed: number;
  /** 'spm-bytes': synthetic SentencePiece vocab (vocabSize >= 259); 'qwen2': the real Qwen2.5 BPE vocab, padded. */
  tokenizer: 'spm-bytes' | 'qwen2';
  slidingWindow?: number;
  /**
   * Multiplies the output head's weights (default 1). Random models have nearly flat next-token
   * distributions (entropy close to log(vocab)); trained ones are peaked. Tests that compare top-1
   * choices use a larger scale so that near-ties are the exception, as with a real model.
   */
  outputScale?: number;
  /** Long-context rope scaling, written as rope.scaling.* metadata the way llama.cpp's converter does. */
  ropeScaling?: { type: 'none' | 'linear' | 'yarn'; factor: number; originalContext?: number; attnFactor?: number };
  /** llama only: the seven optional biases llama.cpp's llama graph adds (q, k, v, attention output, gate, up, down). */
  llamaBiases?: boolean;
  /** llama only: a `rope_freqs.weight` tensor of Llama 3.x's per-frequency divisors (llama3RopeFactors). */
  llama3Rope?: Llama3RopeSpec;
  /** granite and granitemoe only: their embedding, residual, attention and logit scales (default GRANITE_SCALES). */
  graniteScales?: GraniteScales;
  /** qwen2moe, qwen3moe, granitemoe, deepseek (required there) and llama (Mixtral-style): experts per layer, experts per token, and each expert's FFN width. */
  experts?: {
    count: number; used: number; ffnDim: number; routerScale?: number; sharedFfnDim?: number;
    /** deepseek: shared experts (required there; their FFN is sharedCount x ffnDim wide), leading dense layers, the weights' scale. */
    sharedCount?: number; denseLeading?: number; weightsScale?: number;
  };
}

export interface GraniteScales {
  embedding: number;
  residual: number;
  attention: number;
  logit: number;
}

/** Granite 3.x 2B's multipliers (embedding 12, residual 0.22, attention 1/64 for heads of 64, logits / 8). */
export const GRANITE_SCALES: GraniteScales = { embedding: 12, residual: 0.22, attention: 0.015625, logit: 8 };

/** Llama 3.1's rope_scaling: `factor` for low frequencies, 1 for high ones, a smooth ramp between. */
export interface Llama3RopeSpec {
  factor: number;
  originalContext: number;
  lowFreqFactor: number;
  highFreqFactor: number;
}

/**
 * The divisor of each rotary frequency theta^(-2i/nRot), as Hugging Face's llama3 rope type defines it
 * (and llama.cpp's converter stores in rope_freqs.weight): wavelengths longer than
 * originalContext / lowFreqFactor are divided by `factor`, shorter than originalContext / highFreqFactor kept.
 */
export function llama3RopeFactors(nRot: number, theta: number, r: Llama3RopeSpec): Float32Array {
  const out = new Float32Array(nRot / 2);
  const longest = r.originalContext / r.lowFreqFactor;
  const shortest = r.originalContext / r.highFreqFactor;
  for (let i = 0; i < out.length; i++) {
    const wavelength = 2 * Math.PI * Math.pow(theta, (2 * i) / nRot);
    if (wavelength < shortest) out[i] = 1;
    else if (wavelength > longest) out[i] = r.factor;
    else {
      const smooth = (r.originalContext / wavelength - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / r.factor + smooth);
    }
  }
  return out;
}

/** f32 values generated per chunk: 1M (4 MB), a multiple of every block size. */
const CHUNK_ELEMS = 1 << 20;

function checkSpec(s: SyntheticSpec): void {
  const positive = ['nLayers', 'dModel', 'nHeads', 'nKvHeads', 'ffnDim', 'vocabSize', 'contextLength'] as const;
  for (const k of positive) if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`spec.${k} must be a positive integer`);
  if (s.headDim !== undefined && !(Number.isInteger(s.headDim) && s.headDim > 0 && s.headDim % 4 === 0)) throw new RangeError('spec.headDim must be a positive multiple of 4');
  if (s.headDim === undefined && (s.dModel % s.nHeads !== 0 || (s.dModel / s.nHeads) % 4 !== 0)) throw new RangeError('spec.dModel must split into nHeads heads of a multiple of 4');
  if (s.nHeads % s.nKvHeads !== 0) throw new RangeError('spec.nKvHeads must divide nHeads');
  if (!WEIGHT_TYPES[s.weightType]) throw new RangeError(`spec.weightType ${s.weightType} is unknown`);
  if (s.llama3Rope && s.arch !== 'llama') throw new RangeError('spec.llama3Rope: llama.cpp reads rope_freqs for llama models only');
  if (ARCHITECTURES[s.arch].outputBias && s.tiedEmbedding) throw new RangeError('spec.tiedEmbedding: phi2 has an output head of its own, with a bias');
  if (s.arch === 'gemma' && !s.tiedEmbedding) throw new RangeError('spec.tiedEmbedding: gemma always ties its output head (llama.cpp refuses an output.weight there)');
  if (s.graniteScales && !ARCHITECTURES[s.arch].scalars) throw new RangeError('spec.graniteScales: for granite and granitemoe models only');
  const t = ARCHITECTURES[s.arch];
  if (s.experts ? !t.expertWidth : t.expertWidth && !t.expertsOptional) throw new RangeError('spec.experts: required for qwen2moe, qwen3moe, granitemoe and deepseek, optional for llama (Mixtral), for them only');
  if (s.experts && s.llamaBiases) throw new RangeError('spec.llamaBiases: a mixture of experts has no FFN biases');
  if (s.experts && !(s.experts.used >= 1 && s.experts.used <= s.experts.count && s.experts.ffnDim >= 1)) throw new RangeError('spec.experts: used must be 1..count, ffnDim positive');
  if (s.experts && (t.sharedExpert === 'counted') !== (s.experts.sharedCount !== undefined)) throw new RangeError('spec.experts.sharedCount: required for deepseek, for it only');
  if (s.experts && !t.deepseekMoe && (s.experts.denseLeading !== undefined || s.experts.weightsScale !== undefined)) throw new RangeError('spec.experts.denseLeading, weightsScale: for deepseek only');
  if (s.experts?.sharedFfnDim ? !t.sharedExpert || t.sharedExpert === 'counted' : t.sharedExpert === 'gated') throw new RangeError('spec.experts.sharedFfnDim: required for qwen2moe, optional for granitemoe, for them only');
  if (ARCHITECTURES[s.arch].positions !== 'rope' && (s.ropeScaling || s.nRot !== undefined)) throw new RangeError(`spec.ropeScaling, spec.nRot: a model with ${ARCHITECTURES[s.arch].positions} positions has no rope`);
  if (s.llamaBiases && s.arch !== 'llama') throw new RangeError('spec.llamaBiases: for llama models only (qwen2 has its q|k|v biases always)');
}

/** Writes a random-weight model described by `spec` to outPath. */
export async function synthesizeModel(outPath: string, spec: SyntheticSpec): Promise<void> {
  checkSpec(spec);
  const { arch, nLayers, dModel, nHeads, nKvHeads, ffnDim, vocabSize } = spec;
  const headDim = spec.headDim ?? dModel / nHeads;
  const qDim = headDim * nHeads;
  const kvDim = headDim * nKvHeads;
  const weightType = WEIGHT_TYPES[spec.weightType];
  const residualScale = 1 / Math.sqrt(2 * nLayers);
  const shape = { nLayers, tiedEmbedding: spec.tiedEmbedding };
  const tensors: GgufTensorToWrite[] = [];

  // Tensor i draws from its own stream, so the bytes do not depend on the order tensors are written.
  const random = (name: string, dims: number[], type: GgmlType, std: number, mean = 0) => {
    const stream = tensors.length;
    const count = dims.reduce((a, b) => a * b, 1);
    tensors.push({
      name, dims, type,
      data: function* () {
        const rng = new Xoshiro128(spec.seed, stream);
        for (let at = 0; at < count; at += CHUNK_ELEMS) {
          const values = rng.fill(new Float32Array(Math.min(CHUNK_ELEMS, count - at)), std, mean);
          yield quantizeTensor(type, values, name);
        }
      },
    });
  };
  // [rows][cols] weight matrix, ggml dims [cols, rows], std 1/sqrt(cols) * scale.
  const matrix = (name: string, rows: number, cols: number, scale = 1) =>
    random(name, [cols, rows], tensorType(weightType, name, cols, shape), scale / Math.sqrt(cols));
  const norm = (name: string, size: number) => random(name, [size], GgmlType.F32, 0.1 / Math.sqrt(3), 1);
  const bias = (name: string, size: number) => random(name, [size], GgmlType.F32, 0.02);
  const qkNorm = ARCHITECTURES[arch].qkNorm;
  const qkScale = qkNorm ? 4 : 1;
  // starcoder2, starcoder and phi2: every projection has a bias.
  const projectionBiases = arch === 'starcoder2' || arch === 'starcoder' || arch === 'phi2';
  const learned = ARCHITECTURES[arch].positions === 'learned';
  const layerNorm = ARCHITECTURES[arch].norm === 'layer';
  // LayerNorm's weight and bias, or RMSNorm's weight.
  const rowNorm = (name: string, size: number) => {
    norm(`${name}.weight`, size);
    if (layerNorm) random(`${name}.bias`, [size], GgmlType.F32, 0.3 / Math.sqrt(3));
  };
  const projection = (name: string, rows: number, cols: number, scale = 1) => {
    matrix(`${name}.weight`, rows, cols, scale);
    if (projectionBiases) random(`${name}.bias`, [rows], GgmlType.F32, 0.1);
  };

  // Embedding rows have std 1 so the first RMSNorm sees O(1) values (gemma: after its sqrt(d) scale).
  const gemma = arch === 'gemma';
  const embeddingStd = gemma ? 1 / Math.sqrt(dModel) : ARCHITECTURES[arch].scalars ? 1 / (spec.graniteScales ?? GRANITE_SCALES).embedding : 1;
  random('token_embd.weight', [dModel, vocabSize], tensorType(weightType, 'token_embd.weight', dModel, shape), embeddingStd);
  if (learned) random('position_embd.weight', [dModel, spec.contextLength], weightType.ggml === GgmlType.F16 ? GgmlType.F16 : GgmlType.F32, 0.5);
  if (gemma) random('output_norm.weight', [dModel], GgmlType.F32, spec.outputScale ?? 1);
  else rowNorm('output_norm', dModel);
  if (!spec.tiedEmbedding) matrix('output.weight', vocabSize, dModel, spec.outputScale ?? 1);
  if (ARCHITECTURES[arch].outputBias) random('output.bias', [vocabSize], GgmlType.F32, 0.5);
  for (let l = 0; l < nLayers; l++) {
    rowNorm(`blk.${l}.attn_norm`, dModel);
    if (ARCHITECTURES[arch].qkv === 'fused') {
      projection(`blk.${l}.attn_qkv`, qDim + 2 * kvDim, dModel);
      if (arch === 'chatglm') random(`blk.${l}.attn_qkv.bias`, [qDim + 2 * kvDim], GgmlType.F32, 0.1);
    } else {
      projection(`blk.${l}.attn_q`, qDim, dModel, qkScale);
      projection(`blk.${l}.attn_k`, kvDim, dModel, qkScale);
      projection(`blk.${l}.attn_v`, kvDim, dModel);
    }
    if (arch === 'qwen2' || arch === 'qwen2moe') {
      bias(`blk.${l}.attn_q.bias`, qDim);
      bias(`blk.${l}.attn_k.bias`, kvDim);
      bias(`blk.${l}.attn_v.bias`, kvDim);
    }
    if (qkNorm) {
      random(`blk.${l}.attn_q_norm.weight`, [headDim], GgmlType.F32, 0.5 / Math.sqrt(3), 1);
      random(`blk.${l}.attn_k_norm.weight`, [headDim], GgmlType.F32, 0.5 / Math.sqrt(3), 1);
    }
    projection(`blk.${l}.attn_output`, dModel, qDim, residualScale);
    if (!ARCHITECTURES[arch].parallelResidual) rowNorm(`blk.${l}.ffn_norm`, dModel);
    const x = spec.experts && l >= (spec.experts.denseLeading ?? 0) ? spec.experts : undefined;
    if (x) {
      random(`blk.${l}.ffn_gate_inp.weight`, [dModel, x.count], GgmlType.F32, (x.routerScale ?? 4) / Math.sqrt(dModel));
      // E matrices of [rows][cols] back to back: ggml dims [cols, rows, E].
      const experts = (name: string, rows: number, cols: number, scale = 1) => random(name, [cols, rows, x.count], tensorType(weightType, name, cols, shape), scale / Math.sqrt(cols));
      experts(`blk.${l}.ffn_gate_exps.weight`, x.ffnDim, dModel);
      experts(`blk.${l}.ffn_up_exps.weight`, x.ffnDim, dModel);
      experts(`blk.${l}.ffn_down_exps.weight`, dModel, x.ffnDim, residualScale);
      const sharedWidth = x.sharedCount ? x.sharedCount * x.ffnDim : x.sharedFfnDim;
      if (sharedWidth) {
        matrix(`blk.${l}.ffn_gate_shexp.weight`, sharedWidth, dModel);
        matrix(`blk.${l}.ffn_up_shexp.weight`, sharedWidth, dModel);
        matrix(`blk.${l}.ffn_down_shexp.weight`, dModel, sharedWidth, residualScale);
        if (ARCHITECTURES[arch].sharedExpert === 'gated') random(`blk.${l}.ffn_gate_inp_shexp.weight`, [dModel], GgmlType.F32, 2 / Math.sqrt(dModel));
      }
      continue;
    }
    if (ARCHITECTURES[arch].gateUpFused) {
      matrix(`blk.${l}.ffn_up.weight`, 2 * ffnDim, dModel);
    } else {
      if (ARCHITECTURES[arch].ffn !== 'gelu') matrix(`blk.${l}.ffn_gate.weight`, ffnDim, dModel);
      projection(`blk.${l}.ffn_up`, ffnDim, dModel);
    }
    projection(`blk.${l}.ffn_down`, dModel, ffnDim, residualScale);
  }
  // Last, so every other tensor keeps its random stream (and bytes) with or without them. Large enough
  // (std 0.3) to change the output visibly.
  if (spec.llamaBiases) {
    for (let l = 0; l < nLayers; l++) {
      const size: Record<string, number> = { attn_q: qDim, attn_k: kvDim, attn_v: kvDim, attn_output: dModel, ffn_gate: ffnDim, ffn_up: ffnDim, ffn_down: dModel };
      for (const m of ARCHITECTURES.llama.optionalBiases) random(`blk.${l}.${m}.bias`, [size[m]], GgmlType.F32, 0.3);
    }
  }
  if (spec.llama3Rope) {
    const factors = llama3RopeFactors(headDim, spec.ropeTheta, spec.llama3Rope);
    tensors.push({ name: 'rope_freqs.weight', dims: [factors.length], type: GgmlType.F32, data: new Uint8Array(factors.buffer) });
  }

  await writeGguf(outPath, { metadata: syntheticMetadata(spec), tensors });
}

export function syntheticMetadata(spec: SyntheticSpec): GgufMetadataEntry[] {
  const { arch } = spec;
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key: `${arch}.${key}`, type: GgufValueType.UINT32, value });
  const f32 = (key: string, value: number): GgufMetadataEntry => ({ key: `${arch}.${key}`, type: GgufValueType.FLOAT32, value });
  const weightType = WEIGHT_TYPES[spec.weightType];
  const quantized = isQuantizedWeightType(weightType);
  const tokenizer = spec.tokenizer === 'qwen2'
    ? hfTokenizerToGguf(qwen2TokenizerJsonPath(), { vocabSize: spec.vocabSize })
    : spmBytesVocab(spec.vocabSize);
  return [
    { key: 'general.architecture', type: GgufValueType.STRING, value: arch },
    { key: 'general.name', type: GgufValueType.STRING, value: `synthetic-${arch}-${spec.nLayers}x${spec.dModel}-${spec.weightType}` },
    { key: 'general.file_type', type: GgufValueType.UINT32, value: weightType.fileType },
    ...(quantized ? [{ key: 'general.quantization_version', type: GgufValueType.UINT32, value: 2 }] : []),
    u32('context_length', spec.contextLength),
    u32('embedding_length', spec.dModel),
    // granitemoe's experts are feed_forward_length wide.
    u32('feed_forward_length', spec.experts && ARCHITECTURES[arch].expertWidth === 'feed_forward_length' ? spec.experts.ffnDim : spec.ffnDim),
    u32('block_count', spec.nLayers),
    u32('attention.head_count', spec.nHeads),
    u32('attention.head_count_kv', spec.nKvHeads),
    ...(spec.headDim !== undefined ? [u32('attention.key_length', spec.headDim), u32('attention.value_length', spec.headDim)] : []),
    ...(ARCHITECTURES[arch].positions === 'rope' ? [u32('rope.dimension_count', spec.nRot ?? spec.headDim ?? spec.dModel / spec.nHeads), f32('rope.freq_base', spec.ropeTheta)] : []),
    ARCHITECTURES[arch].norm === 'layer' ? f32('attention.layer_norm_epsilon', 1e-5) : f32('attention.layer_norm_rms_epsilon', arch === 'llama' ? 1e-5 : 1e-6),
    ...(spec.slidingWindow !== undefined ? [u32('attention.sliding_window', spec.slidingWindow)] : []),
    ...ropeScalingMetadata(spec, arch),
    ...(ARCHITECTURES[arch].scalars ? graniteMetadata(arch, spec.graniteScales ?? GRANITE_SCALES) : []),
    ...(spec.experts ? [u32('expert_count', spec.experts.count), u32('expert_used_count', spec.experts.used)] : []),
    ...(spec.experts && ARCHITECTURES[arch].expertWidth === 'expert_feed_forward_length' ? [u32('expert_feed_forward_length', spec.experts.ffnDim)] : []),
    ...(spec.experts?.sharedFfnDim ? [u32('expert_shared_feed_forward_length', spec.experts.sharedFfnDim)] : []),
    ...(spec.experts?.sharedCount !== undefined ? [u32('expert_shared_count', spec.experts.sharedCount)] : []),
    ...(spec.experts?.denseLeading !== undefined ? [u32('leading_dense_block_count', spec.experts.denseLeading)] : []),
    ...(spec.experts?.weightsScale !== undefined ? [f32('expert_weights_scale', spec.experts.weightsScale)] : []),
    ...tokenizer,
  ];
}

function graniteMetadata(arch: string, g: GraniteScales): GgufMetadataEntry[] {
  const f32 = (key: string, value: number): GgufMetadataEntry => ({ key: `${arch}.${key}`, type: GgufValueType.FLOAT32, value });
  return [f32('embedding_scale', g.embedding), f32('residual_scale', g.residual), f32('attention.scale', g.attention), f32('logit_scale', g.logit)];
}

function ropeScalingMetadata(spec: SyntheticSpec, arch: string): GgufMetadataEntry[] {
  const r = spec.ropeScaling;
  if (!r) return [];
  return [
    { key: `${arch}.rope.scaling.type`, type: GgufValueType.STRING, value: r.type },
    { key: `${arch}.rope.scaling.factor`, type: GgufValueType.FLOAT32, value: r.factor },
    ...(r.originalContext !== undefined ? [{ key: `${arch}.rope.scaling.original_context_length`, type: GgufValueType.UINT32, value: r.originalContext }] : []),
    ...(r.attnFactor !== undefined ? [{ key: `${arch}.rope.scaling.attn_factor`, type: GgufValueType.FLOAT32, value: r.attnFactor }] : []),
  ];
}
