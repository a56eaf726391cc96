// The model's tensors on the GPU, read from a GGUF by name (llama.cpp's names) and checked against the
// config. Matrices keep their GGUF type (dequantised inside the kernels); projections that feed one
// output row (q|k|v, gate|up) are concatenated into one matrix at upload when their types agree, so
// each is a single matmul. Norm weights and biases are f32.

import { ModelFormatError, OutOfMemoryError, UnsupportedModelError, UnsupportedQuantError } from '../common/errors';
import type { BufferOwner } from '../gpu/buffers';
import { uploadMatrix, type GpuMatrix, type RowSource } from '../gpu/matrix';
import { allSettledOrThrow, UploadQueue } from '../gpu/uploadQueue';
import { readTensorBytes } from '../loaders/gguf/reader';
import { GgmlType, type GgufFile, type GgufTensorInfo } from '../loaders/gguf/types';
import { dequantizeTensor } from '../loaders/quant/tensor';
import { DTYPE_OF_GGML, ggufRowBytes, gpuRowBytes, type WeightDtype } from '../loaders/repack';
import { sharedRepackPool, type RepackPool } from '../loaders/repackPool';
import { ggmlRowBytes, isMatrix, KEPT_BY_REQUANTIZE, requantizedRows, requantizedType, type RequantDtype } from '../loaders/quant/requantize';
import { ARCHITECTURES, layerExperts, type MixtureOfExperts, type ModelConfig } from './config';

/** Several matrices writing side by side into one output row (one part when they could be fused). */
export interface Linear {
  parts: { matrix: GpuMatrix; colOffset: number }[];
  inDim: number;
  outDim: number;
  /** f32 [outDim], or null. */
  bias: GPUBuffer | null;
}

export interface LayerWeights {
  attnNorm: GPUBuffer;
  /** LayerNorm models (starcoder2): the norms' f32 [dModel] biases; null elsewhere. */
  attnNormBias: GPUBuffer | null;
  qkv: Linear;
  /** qwen3: f32 [headDim] weights of the per-head RMSNorm of q and of k; null elsewhere. */
  qNorm: GPUBuffer | null;
  kNorm: GPUBuffer | null;
  attnOut: Linear;
  /** null where attention and FFN share the attention norm (ModelConfig.parallelResidual). */
  ffnNorm: GPUBuffer | null;
  ffnNormBias: GPUBuffer | null;
  /** [gate | up] (SwiGLU), or up alone (GELU); null where the layer's FFN is `experts`. */
  gateUp: Linear | null;
  down: Linear | null;
  /** qwen2moe, qwen3moe, granitemoe, Mixtral-style llama: the router and the experts (see MixtureOfExperts); null for a dense FFN. */
  experts: ExpertWeights | null;
  /**
   * A shared expert beside the routed ones (MixtureOfExperts.shared): [gate | up], down, and qwen2moe's gate
   * (ffn_gate_inp_shexp, [1][d]: one logit a token); null without one.
   */
  sharedExpert: { gateUp: Linear; down: Linear; gate: Linear | null } | null;
}

/**
 * A layer's experts. Each matrix holds all E experts back to back as in the GGUF (ffn_gate_exps
 * [d, ffnDim, E] in ggml's order is E matrices of [ffnDim][d]): expert e's rows start at e · rowsPerExpert,
 * and a chunk of the matrix holds whole experts.
 */
export interface ExpertWeights {
  /** ffn_gate_inp: [E][d], the router's logits. */
  router: Linear;
  gate: ExpertMatrix;
  up: ExpertMatrix;
  down: ExpertMatrix;
}

export interface ExpertMatrix {
  matrix: GpuMatrix;
  rowsPerExpert: number;
}

export interface ModelWeights {
  tokenEmbedding: GpuMatrix;
  /** Learned positions (starcoder): `position_embd.weight`, [contextLength][d], row p added at position p; else null. */
  positionEmbedding: GpuMatrix | null;
  layers: LayerWeights[];
  outputNorm: GPUBuffer;
  outputNormBias: GPUBuffer | null;
  /** The output head; the token embedding itself when the model ties them. */
  output: GpuMatrix;
  /** f32 [vocab]: the output head's bias (phi2), else null. */
  outputBias: GPUBuffer | null;
  /** Weight bytes a decode step reads (every matrix once; the embedding row is negligible). */
  bytesPerToken: number;
  /** Llama 3.x's per-frequency rope divisors (`rope_freqs.weight`, nRot/2 values), read on the CPU for the rope table. */
  ropeFreqFactors: Float32Array | undefined;
}

export type LoadProgress = (loadedBytes: number, totalBytes: number) => void;

class TensorReader {
  private readonly byName = new Map<string, GgufTensorInfo>();

  constructor(readonly file: GgufFile) {
    for (const t of file.tensors) this.byName.set(t.name, t);
  }

  get(name: string, dims: number[]): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new ModelFormatError(`tensor.${name}`, 'missing', this.file.path);
    // Trailing 1s are optional on either side: a vector [n] (qwen2moe's ffn_gate_inp_shexp) is the matrix [n, 1] of one row.
    const same = dims.every((d, i) => (t.dims[i] ?? 1) === d) && t.dims.slice(dims.length).every((d) => d === 1);
    if (!same) throw new ModelFormatError(`tensor.${name}`, `shape [${t.dims}] where [${dims}] was expected`, this.file.path);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}

/**
 * The dtype a tensor runs as, and a source of its rows in that dtype's GGUF layout (BF16 runs as f32).
 * With `requantize`, a matrix whose rows get smaller as that type is converted while it streams.
 */
function rowSource(file: GgufFile, t: GgufTensorInfo, cols: number, requantize?: RequantDtype, pool?: RepackPool | null): { dtype: WeightDtype; read: RowSource } {
  // Vectors stay as they are (requantizedWeightBytes counts them so): qwen2moe's shared-expert gate, a [d] read as one row.
  if (requantize && isMatrix(t)) {
    const to = requantizedType(t.type, cols, requantize);
    if (to !== t.type) return { dtype: DTYPE_OF_GGML[to]!, read: requantizedSource(file, t, cols, to, pool ?? null) };
  }
  const dtype = DTYPE_OF_GGML[t.type];
  if (dtype) {
    const rowBytes = ggufRowBytes(dtype, cols);
    return { dtype, read: (r, n, into) => readTensorBytes(file, t, r * rowBytes, n * rowBytes, into) };
  }
  if (t.type === GgmlType.BF16) {
    return {
      dtype: 'f32',
      read: async (r, n) => {
        const raw = await readTensorBytes(file, t, r * cols * 2, n * cols * 2);
        const f = dequantizeTensor(GgmlType.BF16, raw, n * cols, t.name);
        return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      },
    };
  }
  throw new UnsupportedQuantError(t.name, GgmlType[t.type] ?? `type ${t.type}`);
}

/**
 * Requantized rows: on a pool thread, which reads them itself, when the upload gives shared memory to
 * fill (a quantized target type); else, or when the pool has lost a thread, on this one. Requantizing
 * is the slowest part of a self-draft's load (~60 MB/s a thread for Q8_0 -> Q4_0).
 */
function requantizedSource(file: GgufFile, t: GgufTensorInfo, cols: number, to: GgmlType, pool: RepackPool | null): RowSource {
  const here = requantizedRows(file, t, cols, to);
  const srcRowBytes = ggmlRowBytes(t.type, cols, t.name);
  return async (r, n, into) => {
    if (!pool || !(into?.buffer instanceof SharedArrayBuffer)) return here(r, n);
    try {
      await pool.requantize({ path: file.path, tensor: t.name, fileOffset: file.dataOffset + t.offset + r * srcRowBytes, from: t.type, to, cols, rows: n }, into);
      return into;
    } catch (e) {
      if (!pool.broken) throw e;
      return here(r, n);
    }
  };
}

/**
 * `requantize`: every matrix (the embedding too; norms and biases stay f32) stored as that type, see
 * requantize.ts. `repackPool`: the threads that repack quantized blocks (default: the process's pool;
 * null: on this thread). The layers load concurrently through one UploadQueue, which bounds the pieces
 * in flight, so the pool's threads stay busy across tensor boundaries.
 */
export async function loadWeights(
  owner: BufferOwner, file: GgufFile, cfg: ModelConfig, onProgress?: LoadProgress, requantize?: RequantDtype,
  repackPool: RepackPool | null = sharedRepackPool(),
): Promise<ModelWeights> {
  const tensors = new TensorReader(file);
  checkModelRunnable(cfg, file);
  const total = file.tensors.reduce((s, t) => s + t.byteSize, 0);
  const queue = new UploadQueue(repackPool);
  let loaded = 0;
  const progress = (bytes: number) => {
    loaded += bytes;
    onProgress?.(loaded, total);
  };
  // A failure anywhere (a missing tensor, a short read) stops the pieces not yet started everywhere.
  const stopOnFailure = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => {
    queue.fail(e);
    throw e;
  });
  const upload = (dtype: WeightDtype, rows: number, cols: number, read: RowSource, label: string, maxChunkBytes?: number) =>
    uploadMatrix(owner, dtype, rows, cols, read, label, maxChunkBytes, { queue });

  const vector = async (name: string, len: number): Promise<GPUBuffer> => {
    const t = tensors.get(name, [len]);
    const raw = await readTensorBytes(file, t);
    const f = dequantizeTensor(t.type, raw, len, name);
    progress(t.byteSize);
    return owner.storageFrom(f, name);
  };

  const matrix = async (names: string[], inDim: number, outDims: number[], label: string): Promise<Linear> => {
    const infos = names.map((n, i) => tensors.get(n, [inDim, outDims[i]]));
    const sources = infos.map((t) => rowSource(file, t, inDim, requantize, repackPool));
    const outDim = outDims.reduce((a, b) => a + b, 0);
    const parts: Linear['parts'] = [];
    if (sources.every((s) => s.dtype === sources[0].dtype)) {
      // One matrix: rows of the parts one after another.
      const starts = outDims.map((_, i) => outDims.slice(0, i).reduce((a, b) => a + b, 0));
      const rowBytes = ggufRowBytes(sources[0].dtype, inDim);
      const read: RowSource = async (r, n, into) => {
        const out = into ?? new Uint8Array(n * rowBytes);
        for (let i = 0; i < infos.length; i++) {
          const lo = Math.max(r, starts[i]);
          const hi = Math.min(r + n, starts[i] + outDims[i]);
          if (lo >= hi) continue;
          const at = out.subarray((lo - r) * rowBytes, (hi - r) * rowBytes);
          const got = await sources[i].read(lo - starts[i], hi - lo, at);
          if (got !== at) at.set(got);
        }
        return out;
      };
      parts.push({ matrix: await upload(sources[0].dtype, outDim, inDim, read, label), colOffset: 0 });
    } else {
      let col = 0;
      for (let i = 0; i < infos.length; i++) {
        parts.push({ matrix: await upload(sources[i].dtype, outDims[i], inDim, sources[i].read, names[i]), colOffset: col });
        col += outDims[i];
      }
    }
    progress(infos.reduce((s, t) => s + t.byteSize, 0));
    return { parts, inDim, outDim, bias: null };
  };

  /** E experts' matrices of [rows][cols] (ggml dims [cols, rows, E]), chunked at expert boundaries. */
  const expertMatrix = async (name: string, rows: number, cols: number, count: number): Promise<ExpertMatrix> => {
    const info = tensors.get(name, [cols, rows, count]);
    const src = rowSource(file, info, cols, requantize, repackPool);
    const limit = Math.min(owner.device.limits.maxStorageBufferBindingSize, owner.device.limits.maxBufferSize);
    const expertBytes = rows * gpuRowBytes(src.dtype, cols).data;
    if (expertBytes > limit) throw new OutOfMemoryError(`${name}: one expert (${expertBytes} bytes) exceeds the binding size limit`);
    const matrix = await upload(src.dtype, rows * count, cols, src.read, name, Math.floor(limit / expertBytes) * expertBytes);
    progress(info.byteSize);
    return { matrix, rowsPerExpert: rows };
  };

  const c = cfg;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const loadLayer = async (l: number): Promise<LayerWeights> => {
    const p = `blk.${l}.`;
    // [q | k | v] rows: three matrices concatenated, or starcoder's fused one, stored in that order.
    const qkvParts = QKV_TENSORS[c.qkv];
    const qkvRows = c.qkv === 'fused' ? [qDim + 2 * kvDim] : [qDim, kvDim, kvDim];
    const qkv = await matrix(qkvParts.map((m) => `${p}${m}.weight`), c.dModel, qkvRows, `${p}qkv`);
    // Each architecture's graph adds the biases the file has (ARCHITECTURES; checkEveryTensorRead refuses others).
    qkv.bias = await biasOf(p, qkvParts, qkvRows, `${p}qkv.bias`);
    const attnOut = await matrix([`${p}attn_output.weight`], qDim, [c.dModel], `${p}attn_output`);
    attnOut.bias = await biasOf(p, ['attn_output'], [c.dModel], `${p}attn_output.bias`);
    const moe = layerExperts(c, l);
    const ffn = moe
      ? { gateUp: null, down: null, experts: await expertsOf(p, moe), sharedExpert: moe.shared ? await sharedExpertOf(p, moe.shared) : null }
      : { ...await denseFfn(p), experts: null, sharedExpert: null };
    const layerNorm = c.norm === 'layer';
    return {
      attnNorm: await vector(`${p}attn_norm.weight`, c.dModel),
      attnNormBias: layerNorm ? await vector(`${p}attn_norm.bias`, c.dModel) : null,
      qkv,
      qNorm: c.qkNorm ? await vector(`${p}attn_q_norm.weight`, c.headDim) : null,
      kNorm: c.qkNorm ? await vector(`${p}attn_k_norm.weight`, c.headDim) : null,
      attnOut,
      ffnNorm: c.parallelResidual ? null : await vector(`${p}ffn_norm.weight`, c.dModel),
      ffnNormBias: layerNorm && !c.parallelResidual ? await vector(`${p}ffn_norm.bias`, c.dModel) : null,
      ...ffn,
    };
  };

  const denseFfn = async (p: string): Promise<{ gateUp: Linear; down: Linear }> => {
    // [gate | up] for the gated FFNs: two tensors, or chatglm's one ffn_up of both.
    const fused = ARCHITECTURES[c.architecture].gateUpFused;
    const ffnIn = c.ffn === 'gelu' || fused ? ['ffn_up'] : ['ffn_gate', 'ffn_up'];
    const rows = fused ? [2 * c.ffnDim] : ffnIn.map(() => c.ffnDim);
    const gateUp = await matrix(ffnIn.map((m) => `${p}${m}.weight`), c.dModel, rows, `${p}gate_up`);
    gateUp.bias = await biasOf(p, ffnIn, rows, `${p}gate_up.bias`);
    const down = await matrix([`${p}ffn_down.weight`], c.ffnDim, [c.dModel], `${p}ffn_down`);
    down.bias = await biasOf(p, ['ffn_down'], [c.dModel], `${p}ffn_down.bias`);
    return { gateUp, down };
  };

  const sharedExpertOf = async (p: string, shared: NonNullable<MixtureOfExperts['shared']>): Promise<NonNullable<LayerWeights['sharedExpert']>> => ({
    gateUp: await matrix([`${p}ffn_gate_shexp.weight`, `${p}ffn_up_shexp.weight`], c.dModel, [shared.ffnDim, shared.ffnDim], `${p}gate_up_shexp`),
    down: await matrix([`${p}ffn_down_shexp.weight`], shared.ffnDim, [c.dModel], `${p}ffn_down_shexp`),
    gate: shared.gated ? await matrix([`${p}ffn_gate_inp_shexp.weight`], c.dModel, [1], `${p}ffn_gate_inp_shexp`) : null,
  });

  const expertsOf = async (p: string, moe: MixtureOfExperts): Promise<ExpertWeights> => ({
    router: await matrix([`${p}ffn_gate_inp.weight`], c.dModel, [moe.count], `${p}ffn_gate_inp`),
    gate: await expertMatrix(`${p}ffn_gate_exps.weight`, moe.ffnDim, c.dModel, moe.count),
    up: await expertMatrix(`${p}ffn_up_exps.weight`, moe.ffnDim, c.dModel, moe.count),
    down: await expertMatrix(`${p}ffn_down_exps.weight`, c.dModel, moe.ffnDim, moe.count),
  });

  /**
   * One bias for a Linear whose output is the parts `parts` (`attn_q`, ...) of layer prefix `p` one after
   * another (zeros for a part the file has not), or null when it has none of them. One the architecture
   * requires must be there (TensorReader.get names it when it is not).
   */
  const required = new Set(ARCHITECTURES[c.architecture].requiredBiases);
  const biasOf = async (p: string, parts: string[], lens: number[], label: string): Promise<GPUBuffer | null> => {
    const read = parts.map((m) => tensors.has(`${p}${m}.bias`) || required.has(m));
    if (!read.some(Boolean)) return null;
    const out = new Float32Array(lens.reduce((a, b) => a + b, 0));
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      if (read[i]) {
        const t = tensors.get(`${p}${parts[i]}.bias`, [lens[i]]);
        out.set(await readVectorF32(file, t), at);
        progress(t.byteSize);
      }
      at += lens[i];
    }
    return owner.storageFrom(out, label);
  };

  // A table of rows looked up by id (tokens, positions), in its GGUF type or requantized (but the ones
  // KEPT_BY_REQUANTIZE: llama.cpp's quantizer leaves position_embd as converted, and so does a self-draft).
  const table = async (name: string, rows: number): Promise<GpuMatrix> => {
    const info = tensors.get(`${name}.weight`, [c.dModel, rows]);
    const src = rowSource(file, info, c.dModel, KEPT_BY_REQUANTIZE.has(info.name) ? undefined : requantize, repackPool);
    const m = await upload(src.dtype, rows, c.dModel, src.read, name);
    progress(info.byteSize);
    return m;
  };
  const embedding = stopOnFailure(table('token_embd', c.vocabSize));
  const positions = c.positions === 'learned' ? stopOnFailure(table(POSITION_EMBEDDING, c.contextLength)) : null;
  const layers = Array.from({ length: c.nLayers }, (_, l) => stopOnFailure(loadLayer(l)));
  const outputNorm = stopOnFailure(vector('output_norm.weight', c.dModel));
  const outputNormBias = c.norm === 'layer' ? stopOnFailure(vector('output_norm.bias', c.dModel)) : null;
  const outputBias = ARCHITECTURES[c.architecture].outputBias ? stopOnFailure(vector('output.bias', c.vocabSize)) : null;
  // Gemma's graph always ties its output head; an output.weight there is refused (checkEveryTensorRead).
  const outputHead = !ARCHITECTURES[c.architecture].tiedOutput && tensors.has('output.weight') ? stopOnFailure(matrix(['output.weight'], c.dModel, [c.vocabSize], 'output')) : null;
  const freqFactors = readsRopeFreqs(c, file) ? stopOnFailure(readRopeFreqFactors(file, tensors.get(ROPE_FREQS, [c.nRot / 2])).then((f) => {
    progress(f.bytes);
    return f.factors;
  })) : undefined;
  // Everything settles before this returns or throws (the caller disposes the owner's buffers on failure).
  await allSettledOrThrow<unknown>([embedding, ...(positions ? [positions] : []), outputNorm, ...(outputNormBias ? [outputNormBias] : []), ...(outputHead ? [outputHead] : []), ...(outputBias ? [outputBias] : []), ...(freqFactors ? [freqFactors] : []), ...layers]);
  const tokenEmbedding = await embedding;
  const loadedLayers = await Promise.all(layers);
  const output = outputHead ? (await outputHead).parts[0].matrix : tokenEmbedding;

  const linearBytes = (lin: Linear | null) => (lin ? lin.parts.reduce((s, p) => s + p.matrix.bytes, 0) : 0);
  // A token reads `used` of each layer's experts.
  const expertBytes = (x: ExpertWeights | null) => (x ? linearBytes(x.router) + (x.gate.matrix.bytes + x.up.matrix.bytes + x.down.matrix.bytes) * (c.experts!.used / c.experts!.count) : 0);
  const bytesPerToken = loadedLayers.reduce((s, L) => s + linearBytes(L.qkv) + linearBytes(L.attnOut) + linearBytes(L.gateUp) + linearBytes(L.down) + expertBytes(L.experts)
    + linearBytes(L.sharedExpert?.gateUp ?? null) + linearBytes(L.sharedExpert?.down ?? null) + linearBytes(L.sharedExpert?.gate ?? null), 0) + output.bytes;
  return { tokenEmbedding, positionEmbedding: await positions, layers: loadedLayers, outputNorm: await outputNorm, outputNormBias: await outputNormBias, output, outputBias: await outputBias, bytesPerToken, ropeFreqFactors: await freqFactors };
}

const ROPE_FREQS = 'rope_freqs.weight';
const POSITION_EMBEDDING = 'position_embd';

/** A layer's q|k|v tensors (and biases) by ModelConfig.qkv, in the order of their rows. */
const QKV_TENSORS: Record<ModelConfig['qkv'], string[]> = { split: ['attn_q', 'attn_k', 'attn_v'], fused: ['attn_qkv'] };
const QKV_NAMES = new Set([...QKV_TENSORS.split, ...QKV_TENSORS.fused]);
const EXPERT_MATRICES = ['ffn_gate_inp', 'ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps'];
const SHARED_EXPERT_MATRICES = ['ffn_gate_shexp', 'ffn_up_shexp', 'ffn_down_shexp'];
const QK_NORMS = ['attn_q_norm', 'attn_k_norm'];

/**
 * What would make the load fail part way, found before anything is uploaded (a 4 GB model is not read to
 * its last layer to learn that): a tensor the forward pass would not read, a matrix type the kernels cannot run.
 */
export function checkModelRunnable(cfg: ModelConfig, file: GgufFile): void {
  // StableLM 2 12B has no ffn_norm: its FFN reads the attention's input norm and adds in parallel, a graph
  // we do not run. (Elsewhere a missing ffn_norm is a damaged file, which the load says by name.)
  if (cfg.architecture === 'stablelm' && !file.tensors.some((t) => t.name === 'blk.0.ffn_norm.weight')) {
    throw new UnsupportedModelError('a parallel-residual stablelm (no blk.0.ffn_norm, as in StableLM 2 12B)');
  }
  checkEveryTensorRead(cfg, file);
  for (const t of file.tensors) {
    const matrix = t.dims.filter((d) => d > 1).length >= 2;
    if (matrix && DTYPE_OF_GGML[t.type] === undefined && t.type !== GgmlType.BF16) throw new UnsupportedQuantError(t.name, GgmlType[t.type] ?? `type ${t.type}`);
  }
}

/**
 * Every tensor in the file must be one the forward pass reads.
 * llama.cpp refuses files with tensors its graph does not create; to us an unread tensor (experts, a bias,
 * a fused qkv, an extra layer) would mean running other math than the model's, silently. A missing
 * tensor is the file's fault (ModelFormatError from TensorReader.get); an extra one is a variant we do not run.
 */
function checkEveryTensorRead(cfg: ModelConfig, file: GgufFile): void {
  const traits = ARCHITECTURES[cfg.architecture];
  const layerNorm = cfg.norm === 'layer';
  const read = new Set(['token_embd.weight', 'output_norm.weight', ...(traits.tiedOutput ? [] : ['output.weight']), ...(layerNorm ? ['output_norm.bias'] : []), ...(traits.outputBias ? ['output.bias'] : [])]);
  if (traits.ropeFreqs) read.add(ROPE_FREQS);
  if (cfg.positions === 'learned') read.add(`${POSITION_EMBEDDING}.weight`);
  for (let l = 0; l < cfg.nLayers; l++) {
    const moe = layerExperts(cfg, l);
    const shared = moe?.shared ? [...SHARED_EXPERT_MATRICES, ...(moe.shared.gated ? ['ffn_gate_inp_shexp'] : [])] : [];
    const ffn = moe ? [...EXPERT_MATRICES, ...shared] : ['ffn_up', 'ffn_down', ...(cfg.ffn !== 'gelu' && !traits.gateUpFused ? ['ffn_gate'] : [])];
    const norms = cfg.parallelResidual ? ['attn_norm'] : ['attn_norm', 'ffn_norm'];
    const weights = [...norms, 'attn_output', ...QKV_TENSORS[cfg.qkv], ...ffn, ...(cfg.qkNorm ? QK_NORMS : [])];
    for (const m of weights) read.add(`blk.${l}.${m}.weight`);
    // A mixture of experts has no FFN biases (llama's MoE branch creates none). The q|k|v biases a family
    // may have go with the file's layout: three, or attn_qkv's one (llama.cpp's create_tensor_qkv).
    const qkvBiases = traits.optionalBiases.some((m) => QKV_NAMES.has(m)) ? QKV_TENSORS[cfg.qkv] : [];
    const biases = [...traits.optionalBiases.filter((m) => !QKV_NAMES.has(m)), ...qkvBiases, ...traits.requiredBiases].filter((m) => !(moe && m.startsWith('ffn_')));
    for (const m of [...biases, ...(layerNorm ? norms : [])]) read.add(`blk.${l}.${m}.bias`);
  }
  const extra = file.tensors.find((t) => !read.has(t.name));
  if (!extra) return;
  const n = extra.name;
  const what = /_shexp\./.test(n) ? (traits.sharedExpert ? ' (a shared expert, which no expert_shared_feed_forward_length announces)' : ' (a shared expert)') : /\.ffn_(gate|up|down)\.\d+\.weight$/.test(n) ? ' (one expert in a tensor of its own: the pre-2024 Mixtral layout, which llama.cpp no longer reads either; convert the model again)' : /_exps\.|ffn_gate_inp/.test(n) ? (cfg.experts ? ` (an expert tensor ${cfg.architecture} does not have)` : ' (mixture of experts)') : /attn_qkv/.test(n) ? ' (a fused qkv matrix)' : n.endsWith('.bias') ? ' (a bias)'
    : /attn_[qk]_norm/.test(n) ? ' (a per-head q/k norm, which qwen3 has)' : n === 'output.weight' ? ' (an output head of its own; this architecture ties it to the embedding)' : '';
  throw new UnsupportedModelError(`tensor ${n}${what}: Tandem's ${cfg.architecture} forward pass does not read it, and would give other results than the model's`);
}

/** Whether the model has Llama 3's rope divisors: llama.cpp's llama graph reads them, its qwen2/qwen3 graphs do not, so neither do we there. */
export function readsRopeFreqs(cfg: ModelConfig, file: GgufFile): boolean {
  return ARCHITECTURES[cfg.architecture].ropeFreqs && file.tensors.some((t) => t.name === ROPE_FREQS);
}

/** The rope frequency divisors: finite and positive, or the file is damaged (a 0 would make every angle infinite). */
async function readRopeFreqFactors(file: GgufFile, t: GgufTensorInfo): Promise<{ factors: Float32Array; bytes: number }> {
  const factors = await readVectorF32(file, t);
  const bad = factors.findIndex((f) => !(Number.isFinite(f) && f > 0));
  if (bad >= 0) throw new ModelFormatError(`tensor.${t.name}`, `value ${factors[bad]} at ${bad} is not a positive frequency factor`, file.path);
  return { factors, bytes: t.byteSize };
}

async function readVectorF32(file: GgufFile, t: GgufTensorInfo): Promise<Float32Array> {
  return dequantizeTensor(t.type, await readTensorBytes(file, t), t.elementCount, t.name);
}
