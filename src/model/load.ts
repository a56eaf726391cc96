// Opening a GGUF as a runnable model: parse and validate the file, read the config, check the memory
// it needs against the device, upload the weights (streamed) and build the forward pass.

import { OutOfMemoryError } from '../common/errors';
import type { Gpu } from '../gpu/device';
import { openGguf } from '../loaders/gguf/reader';
import type { GgufFile } from '../loaders/gguf/types';
import { ModelFormatError } from '../common/errors';
import { OpContext } from '../ops/context';
import { kvBytesPerToken } from '../kvcache/kvBuffers';
import { configFromMetadata, type ModelConfig } from './config';
import { LlamaModel, type ModelRuntimeOptions } from './llama';
import { loadWeights, type LoadProgress } from './weights';

export interface LoadOptions extends Partial<ModelRuntimeOptions> {
  onProgress?: LoadProgress;
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
  return { file, config: configFromMetadata(file.metadata, emb.dims[1], path) };
}

export function resolveRuntimeOptions(config: ModelConfig, o: Partial<ModelRuntimeOptions>): ModelRuntimeOptions {
  const maxContextTokens = Math.min(o.maxContextTokens ?? DEFAULT_MAX_CONTEXT, config.contextLength);
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const perToken = kvBytesPerToken({ nLayers: config.nLayers, nKvHeads: config.nKvHeads, headDim: config.headDim, blockSize });
  return {
    maxBatchTokens: o.maxBatchTokens ?? DEFAULT_MAX_BATCH,
    maxContextTokens,
    blockSize,
    // By default: room for two full-length sequences (e.g. the document and a completion branch).
    kvBudgetBytes: o.kvBudgetBytes ?? 2 * perToken * Math.ceil(maxContextTokens / blockSize) * blockSize,
    matvec: o.matvec,
    attentionSplitKeys: o.attentionSplitKeys,
  };
}

export async function loadModel(gpu: Gpu, path: string, options: LoadOptions = {}): Promise<{ model: LlamaModel; file: GgufFile }> {
  const { file, config } = await readModelConfig(path);
  const runtime = resolveRuntimeOptions(config, options);
  const weightBytes = file.tensors.reduce((s, t) => s + t.byteSize, 0);
  const maxBuffer = gpu.limits.maxBufferSize;
  if (runtime.kvBudgetBytes / (2 * config.nLayers) > maxBuffer) {
    throw new OutOfMemoryError(`a KV budget of ${runtime.kvBudgetBytes} bytes needs per-layer buffers over the device's ${maxBuffer}-byte limit`);
  }
  const ctx = new OpContext(gpu, config.name);
  try {
    const weights = await loadWeights(ctx.owner, file, config, options.onProgress);
    const errors = gpu.takeErrors();
    if (errors.length) throw new OutOfMemoryError(`uploading ${weightBytes} bytes of weights failed: ${errors[0]}`);
    return { model: new LlamaModel(gpu, config, weights, runtime, ctx), file };
  } catch (e) {
    ctx.dispose();
    throw e;
  }
}
