// Opening a GGUF as a runnable model: parse and validate the file, read the config, check the memory
// it needs against the device, upload the weights (streamed) and build the forward pass.

import { DeviceLostError, OutOfMemoryError } from '../common/errors';
import { settleReleases } from '../gpu/buffers';
import type { Gpu } from '../gpu/device';
import { openGguf } from '../loaders/gguf/reader';
import type { GgufFile } from '../loaders/gguf/types';
import { ModelFormatError } from '../common/errors';
import { OpContext } from '../ops/context';
import { kvBytesPerToken, kvShapesEqual, resolveKvType, type KvBuffers, type KvType } from '../kvcache/kvBuffers';
import { configFromMetadata, qkvLayoutOf, type ModelConfig } from './config';
import { LlamaModel, WINDOW_SLACK_TOKENS, type ModelRuntimeOptions } from './llama';
import { loadWeights, type LoadProgress } from './weights';
import { planWorkspace } from './workspace';
import { defaultSplitKeys } from '../ops/attention';
import { requantizedWeightBytes, type RequantDtype } from '../loaders/quant/requantize';
import type { RepackPool } from '../loaders/repackPool';

export interface LoadOptions extends Partial<ModelRuntimeOptions> {
  onProgress?: LoadProgress;
  /**
   * GPU memory this model may take in all (weights + KV pool + workspace): checked before anything is
   * uploaded, since WebGPU does not say how much memory the device has. Unset: no check beyond the
   * device's own out-of-memory errors.
   */
  memoryBudgetBytes?: number;
  /** Store every matrix as this type, converted while streaming (a self-speculation draft; see requantize.ts). */
  requantize?: RequantDtype;
  /**
   * Another model's KV buffers, of the same shape (layers, KV heads, head size, block size, KV type), to
   * use instead of a pool of this model's own: a draft beside its target, both allocating blocks from one
   * BlockPool over these buffers (draftLoad.ts). The owner of the buffers disposes them; kvBudgetBytes is ignored.
   */
  sharedKv?: KvBuffers;
  /** The threads that repack quantized weights (default: the process's pool; null: the loading thread). */
  repackPool?: RepackPool | null;
  /**
   * The file's header and config, already read by readModelConfig of this same path: a caller that checks
   * more of the file before the upload (its tokenizer, which can refuse it too) passes them rather than
   * have the header read twice.
   */
  opened?: { file: GgufFile; config: ModelConfig };
}

export const DEFAULT_BLOCK_SIZE = 16;
export const DEFAULT_MAX_BATCH = 128;
export const DEFAULT_MAX_CONTEXT = 4096;

/** Reads the config of a GGUF without touching the GPU (inspect, memory checks). */
export async function readModelConfig(path: string): Promise<{ file: GgufFile; config: ModelConfig }> {
  const file = await openGguf(path);
  const emb = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!emb) throw new ModelFormatError('tensor.token_embd.weight', 'missing', path);
  if (emb.dims.length < 2) throw new ModelFormatError('tensor.token_embd.weight', `shape [${emb.dims}]`, path);
  const config = configFromMetadata(file.metadata, emb.dims[1], path);
  const names = new Set(file.tensors.map((t) => t.name));
  return { file, config: { ...config, qkv: qkvLayoutOf(config, (n) => names.has(n)) } };
}

/**
 * Most positions one sequence holds at once: the whole context, or with a sliding window (blocks behind
 * it are released) the window, the slack kept for rollbacks and one batch, in whole blocks.
 */
export function heldTokensPerSequence(config: ModelConfig, o: Partial<ModelRuntimeOptions>, maxContextTokens: number, blockSize: number): number {
  const full = Math.ceil(maxContextTokens / blockSize) * blockSize;
  if (config.slidingWindow === 0 || o.releaseOutOfWindow === false) return full;
  const held = config.slidingWindow + (o.windowSlackTokens ?? WINDOW_SLACK_TOKENS) + (o.maxBatchTokens ?? DEFAULT_MAX_BATCH);
  return Math.min(full, (Math.ceil(held / blockSize) + 1) * blockSize);
}

/** The adapter's defaults: the KV type (resolveKvType) when o.kvType is unset, and whether it is a software
 *  adapter (the split-key decode attention's default, defaultSplitKeys). */
export interface AdapterDefaults {
  kvType: KvType;
  software: boolean;
}

/** Every option with its default; attentionSplitKeys included, so the memory check and the model plan the same workspace. */
export function resolveRuntimeOptions(config: ModelConfig, o: Partial<ModelRuntimeOptions>, adapter: AdapterDefaults): ModelRuntimeOptions & { attentionSplitKeys: number } {
  const maxContextTokens = Math.min(o.maxContextTokens ?? DEFAULT_MAX_CONTEXT, config.contextLength);
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const kvType = o.kvType ?? adapter.kvType;
  const perToken = kvBytesPerToken({ nLayers: config.nLayers, nKvHeads: config.nKvHeads, headDim: config.headDim, blockSize, kvType });
  return {
    maxBatchTokens: o.maxBatchTokens ?? DEFAULT_MAX_BATCH,
    maxContextTokens,
    blockSize,
    kvType,
    // By default: room for two full-length sequences (e.g. the document and a completion branch).
    kvBudgetBytes: o.kvBudgetBytes ?? 2 * perToken * heldTokensPerSequence(config, o, maxContextTokens, blockSize),
    matvec: o.matvec,
    expertOrder: o.expertOrder,
    attentionSplitKeys: o.attentionSplitKeys ?? defaultSplitKeys(adapter.software),
    attentionSplitTokens: o.attentionSplitTokens,
    windowSlackTokens: o.windowSlackTokens,
    releaseOutOfWindow: o.releaseOutOfWindow,
    decodePipelineDepth: o.decodePipelineDepth,
    prefillPassesInFlight: o.prefillPassesInFlight,
    prefillPassBudgetMs: o.prefillPassBudgetMs,
    maxLogitRows: o.maxLogitRows,
  };
}

/** This device's AdapterDefaults; `kvType`, the option asked for (checked against the device's features). */
export function adapterDefaults(gpu: Gpu, kvType?: KvType): AdapterDefaults {
  return { kvType: resolveKvType(gpu.device, kvType), software: gpu.adapter.isSoftware };
}

export async function loadModel(gpu: Gpu, path: string, options: LoadOptions = {}): Promise<{ model: LlamaModel; file: GgufFile }> {
  const { file, config } = options.opened ?? await readModelConfig(path);
  if (file.path !== path) throw new RangeError(`loadModel(${path}) given the opened file ${file.path}`);
  const shared = options.sharedKv;
  const runtime = resolveRuntimeOptions(config, shared ? { ...options, kvBudgetBytes: 0, kvType: shared.shape.kvType, blockSize: shared.shape.blockSize } : options, adapterDefaults(gpu, options.kvType));
  if (shared) {
    const mine = { nLayers: config.nLayers, nKvHeads: config.nKvHeads, headDim: config.headDim, blockSize: runtime.blockSize, kvType: runtime.kvType };
    if (!kvShapesEqual(mine, shared.shape)) throw new RangeError(`${path}: its K/V shape ${JSON.stringify(mine)} differs from the shared KV pool's ${JSON.stringify(shared.shape)}`);
  }
  const weightBytes = options.requantize ? requantizedWeightBytes(file, options.requantize) : file.tensors.reduce((s, t) => s + t.byteSize, 0);
  const maxBuffer = gpu.limits.maxBufferSize;
  if (runtime.kvBudgetBytes / (2 * config.nLayers) > maxBuffer) {
    throw new OutOfMemoryError(`a KV budget of ${runtime.kvBudgetBytes} bytes needs per-layer buffers over the device's ${maxBuffer}-byte limit`);
  }
  const workspace = planWorkspace(config, { ...runtime, splitKeys: runtime.attentionSplitKeys, splitTokens: runtime.attentionSplitTokens, maxBindingBytes: gpu.limits.maxStorageBufferBindingSize });
  const neededBytes = weightBytes + runtime.kvBudgetBytes + workspace.totalBytes;
  if (options.memoryBudgetBytes !== undefined && neededBytes > options.memoryBudgetBytes) {
    const mib = (b: number) => `${Math.ceil(b / 2 ** 20)} MiB`;
    throw new OutOfMemoryError(`${path} needs ${mib(weightBytes)} of weights + ${mib(runtime.kvBudgetBytes)} of KV cache + ${mib(workspace.totalBytes)} of workspace; the memory budget is ${mib(options.memoryBudgetBytes)}`,
      neededBytes, options.memoryBudgetBytes);
  }
  gpu.assertAlive();
  const device = gpu.device;
  // A model disposed just before (a model switch) gives its memory back before this one takes its own.
  await settleReleases(device);
  const ctx = new OpContext(gpu, config.name);
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  // The two scopes are popped exactly once, on success and on failure alike.
  let scopes: Promise<[GPUError | null, GPUError | null]> | undefined;
  const popScopes = () => (scopes ??= (async () => {
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    return [oom, invalid] as [GPUError | null, GPUError | null];
  })());
  try {
    const weights = await loadWeights(ctx.owner, file, config, options.onProgress, options.requantize, options.repackPool);
    const model = new LlamaModel(gpu, config, weights, runtime, ctx, workspace, shared);
    const [oom, invalid] = await popScopes();
    if (oom) throw new OutOfMemoryError(`the GPU ran out of memory loading ${path} (${ctx.owner.allocatedBytes} bytes allocated): ${oom.message}`, neededBytes);
    if (invalid) throw new Error(`loading ${path} failed on the GPU: ${invalid.message}`);
    return { model, file };
  } catch (e) {
    await popScopes().catch(() => undefined);
    ctx.dispose();
    if (gpu.isLost) throw new DeviceLostError(`while loading ${path}`);
    throw e;
  }
}
