// `tandem bench load --model m.gguf [--runs N] [--baseline llamacpp]`: model load time against a raw upload
// of the same bytes in the same run (bench/load.ts), the repack alone per weight type against a memcpy,
// and with --baseline, llama.cpp's load of the same file.

import type { Gpu } from '../gpu/device';
import { measureLoad, measureRepack } from '../bench/load';
import { llamaCppLoadMs } from '../bench/llamacppBaseline';
import { median } from '../bench/stats';
import { readModelConfig } from '../model/load';
import { emit } from './figure';
import type { RequantDtype } from '../loaders/quant/requantize';
import { sharedRepackPool } from '../loaders/repackPool';
import { availableParallelism } from 'node:os';

/** `requantize`: time the self-draft's load (every matrix requantized to that type while it streams) instead. */
export async function benchLoad(gpu: Gpu, model: string, runs: number, baseline: 'llamacpp' | 'llamacpp-vulkan' | undefined, adapter: string, requantize?: RequantDtype): Promise<void> {
  const { file } = await readModelConfig(model);
  const pool = sharedRepackPool();
  const threads = pool?.maxThreads ?? 0;
  for (const r of await measureRepack(file, runs, pool)) {
    emit({ name: `repack ${r.dtype}`, value: r.repackBytesPerS / 1e9, unit: 'GB/s', vs: 'memcpy of the same bytes', ratio: r.repackBytesPerS / r.memcpyBytesPerS,
      memcpyGBps: Math.round(r.memcpyBytesPerS / 1e7) / 100, bytes: r.bytes, note: 'GGUF bytes split into the kernels\' layouts per second, one thread' });
    if (r.threads) {
      emit({ name: `repack ${r.dtype}, ${r.threads.count} thread${r.threads.count === 1 ? '' : 's'}`, value: r.threads.repackBytesPerS / 1e9, unit: 'GB/s', vs: 'one thread', ratio: r.threads.repackBytesPerS / r.repackBytesPerS,
        cores: availableParallelism(), note: 'the repack worker threads, two pieces each at once' });
    }
  }
  const t = await measureLoad(gpu, file, runs, pool, requantize);
  const load = median(t.loadMs);
  const oneThread = median(t.loadOneThreadMs);
  const raw = median(t.rawUploadMs);
  const common = { model, fileBytes: t.fileBytes, runs, adapter, ...(requantize ? { requantize } : {}) };
  emit({ name: 'model load time', value: load, unit: 'ms', vs: 'raw upload of the same bytes', ratio: load / raw, rawUploadMs: Math.round(raw), GBps: Math.round((t.fileBytes / load) * 1e-6 * 100) / 100,
    repackThreads: threads, note: 'loadModel: read, repack, upload; median after an untimed first load (kernels compiled, file in the page cache)', ...common });
  if (pool) {
    emit({ name: 'model load time, repack threads against the loading thread', value: load / oneThread, unit: 'ratio', vs: 'the same load with the repack on the loading thread',
      oneThreadMs: Math.round(oneThread * 10) / 10, repackThreads: threads, cores: availableParallelism(), ...common });
  }
  if (baseline) {
    const theirs = await llamaCppLoadMs(model, runs, baseline === 'llamacpp-vulkan' ? 'vulkan' : false);
    const ms = median(theirs.ms);
    emit({ name: 'model load time', value: ms, unit: 'ms', engine: theirs.label, note: 'loadModel + a 64-token context; on the CPU the file is mapped, not read', ...common });
    emit({ name: 'model load time, tandem / llama.cpp', value: load / ms, unit: 'ratio', vs: theirs.label, ...common });
  }
}
