// llama.cpp (node-llama-cpp, a devDependency) on the same GGUF: the speed baseline of the benchmarks.
// Loaded lazily, so the CLI works without it; a clear error when it is not installed.

import { cpus } from 'node:os';
import { UsageError } from '../common/errors';

export interface LlamaCppTimer {
  /** Prompt evaluation of `tokens` from an empty context: tokens per second. */
  prefillTokensPerS(tokens: number[]): Promise<number>;
  /** Greedy decode of `n` tokens after `prompt`: tokens per second of the decode phase alone. */
  decodeTokensPerS(prompt: number[], n: number): Promise<number>;
  readonly label: string;
  dispose(): Promise<void>;
}

type NodeLlamaCpp = typeof import('node-llama-cpp');
type Token = import('node-llama-cpp').Token;
/** node-llama-cpp brands token ids; ours are plain numbers of the same vocabulary. */
const asTokens = (ids: number[]) => ids as unknown as Token[];

/** A llama.cpp context on the CPU (or Vulkan) with its thread count fixed; the caller owns it. */
export interface LlamaCppContext {
  readonly context: import('node-llama-cpp').LlamaContext;
  /** e.g. "llama.cpp CPU, 1 threads (node-llama-cpp b1234)": names the thread count in every figure. */
  readonly label: string;
  dispose(): Promise<void>;
}

/** The prebuilt llama.cpp (never a local build); `threads`: its maximum, default node-llama-cpp's. */
async function getLlamaCpp(gpu: false | 'vulkan', threads?: number): Promise<import('node-llama-cpp').Llama> {
  let mod: NodeLlamaCpp;
  try {
    mod = await import('node-llama-cpp');
  } catch {
    throw new UsageError('the llama.cpp baseline needs the node-llama-cpp package (npm install, dev dependencies included)');
  }
  if (gpu === 'vulkan') process.env.GGML_VK_VISIBLE_DEVICES ??= '0';
  return mod.getLlama({ gpu, build: 'never', logLevel: mod.LlamaLogLevel.error, ...(threads === undefined ? {} : { maxThreads: threads }) });
}

/**
 * `threads`: llama.cpp's CPU threads spin while they wait, so the count is set explicitly (default: every
 * core) both as the context's threads and as the instance's maximum (node-llama-cpp treats the context's
 * count as a hint otherwise); on a machine busy with other work, fewer threads give steadier figures.
 */
export async function openLlamaCppContext(modelPath: string, contextSize: number, gpu: false | 'vulkan' = false, threads = cpus().length): Promise<LlamaCppContext> {
  const llama = await getLlamaCpp(gpu, threads);
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize, batchSize: Math.min(512, contextSize), flashAttention: false, threads: { ideal: threads, min: threads } });
  return {
    context,
    label: `llama.cpp ${gpu === 'vulkan' ? 'Vulkan' : `CPU, ${threads} threads`} (node-llama-cpp ${llama.buildType ?? ''})`.replace(/ \)/, ')'),
    async dispose() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

export async function openLlamaCppTimer(modelPath: string, contextSize: number, gpu: false | 'vulkan' = false, threads = cpus().length): Promise<LlamaCppTimer> {
  const lc = await openLlamaCppContext(modelPath, contextSize, gpu, threads);
  const seq = lc.context.getSequence();
  return {
    label: lc.label,
    async prefillTokensPerS(tokens) {
      await seq.clearHistory();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(asTokens(tokens));
      return (tokens.length / (performance.now() - t0)) * 1000;
    },
    async decodeTokensPerS(prompt, n) {
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(asTokens(prompt.slice(0, -1)));
      let count = 0;
      let t0 = 0;
      for await (const _ of seq.evaluate(asTokens(prompt.slice(-1)), { temperature: 0 })) {
        // The first token comes out of the last prompt position's pass: start the clock after it.
        if (count === 0) t0 = performance.now();
        if (++count > n) break;
      }
      return (n / (performance.now() - t0)) * 1000;
    },
    dispose: () => lc.dispose(),
  };
}

/**
 * llama.cpp's load time of the same file, `runs` times (ms each): loadModel and a 64-token context, i.e.
 * until it could evaluate. The library itself is set up once, untimed. On the CPU it maps the file
 * (mmap), so pages are read when first used, not here: a floor for "ready to run" more than a like-for-like.
 */
export async function llamaCppLoadMs(modelPath: string, runs: number, gpu: false | 'vulkan' = false): Promise<{ label: string; ms: number[] }> {
  const llama = await getLlamaCpp(gpu);
  try {
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const model = await llama.loadModel({ modelPath });
      const context = await model.createContext({ contextSize: 64, batchSize: 16 });
      ms.push(performance.now() - t0);
      await context.dispose();
      await model.dispose();
    }
    return { label: `llama.cpp ${gpu === 'vulkan' ? 'Vulkan' : 'CPU'} (node-llama-cpp ${llama.buildType ?? ''})`.replace(/ \)/, ')'), ms };
  } finally {
    await llama.dispose();
  }
}
