// Test helper: one GPU device per test file, a model loaded from a GGUF, disposed after use.

import { completionModel, type CompletionModel } from '../../src/completion/pipeline';
import { Gpu } from '../../src/gpu/device';
import { loadModel, type LoadOptions } from '../../src/model/load';
import type { LlamaModel } from '../../src/model/llama';
import { createTokenizer } from '../../src/tokenizer';

let shared: Promise<Gpu> | undefined;

/**
 * The kernels a real GPU runs (split-K matvec, split attention), forced on any adapter; keys split every
 * 16 rather than 64, so the short contexts of tests split too.
 */
export const GPU_KERNELS = { matvec: 'splitKi', attentionSplitKeys: 16 } as const;

export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.acquire();
  return shared;
}

export async function withModel<T>(path: string, options: LoadOptions, body: (model: LlamaModel, gpu: Gpu) => Promise<T>): Promise<T> {
  return withModelOn(await testGpu(), path, options, body);
}

/** withModel on a given device; GPU validation errors raised meanwhile fail it. */
export async function withModelOn<T>(gpu: Gpu, path: string, options: LoadOptions, body: (model: LlamaModel, gpu: Gpu) => Promise<T>): Promise<T> {
  const { model } = await loadModel(gpu, path, options);
  try {
    return await body(model, gpu);
  } finally {
    model.dispose();
    const errors = gpu.takeErrors();
    if (errors.length) throw new Error(`GPU validation errors: ${errors.join('; ')}`);
  }
}

/** A GGUF loaded as a completion model (its own tokenizer); dispose() drops its documents and the model. */
export async function loadCompletionModel(path: string, options: LoadOptions): Promise<{ cm: CompletionModel; dispose: () => void }> {
  const { model, file } = await loadModel(await testGpu(), path, options);
  const cm = completionModel(model, createTokenizer(file.metadata));
  return { cm, dispose: () => { cm.documents.dispose(); model.dispose(); } };
}
