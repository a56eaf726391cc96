// llama.cpp (node-llama-cpp 3.21.1, prebuilt binaries) as the oracle for correctness tests and the baseline
// for benchmarks: tokenizer, next-token log-probabilities at every prompt position, greedy decoding, and
// tok/s timings, all on the same GGUF file Tandem loads.
//
// Logits: node-llama-cpp exposes no raw logits. Its probabilities (controlledEvaluate with
// generateNext.probabilities) are softmax(raw logits) computed in f32 from the unmodified logits when
// sampling is greedy (temperature 0 puts only the greedy sampler in the chain, which selects without
// changing them). So `logProbs` returns log(p) = logit - logsumexp(logits): compare `logSoftmax(ours)`
// with it. Accurate to ~1e-6 absolute where p > 1e-30; a probability that underflowed f32 (a logit more
// than ~103 below the top one) comes back as -Infinity.

import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { llamaCpp } from './testModels';

export interface LlamaCppOptions {
  /** Tokens the context holds (prompt plus generated). Default 512. */
  contextSize?: number;
  /** false: the CPU build; 'vulkan': llama.cpp's Vulkan backend (on lavapipe here, the same device as WebGPU). */
  gpu?: false | 'vulkan';
  /**
   * CPU threads, default 1. llama.cpp's thread pool spins at its barriers, so more threads than free cores
   * collapses its speed (stories260K decode on a busy 2-core machine: 1,930 tok/s with 1 thread, 141 with 2).
   * A benchmark baseline on an otherwise idle machine should pass its core count.
   */
  threads?: number;
  /** Load the vocabulary only (tokenize/detokenize); no context, no evaluation. */
  vocabOnly?: boolean;
}

export interface LlamaCpp {
  readonly model: LlamaModel;
  /** llama_tokenize without BOS; `special`: parse control-token text into ids (default false). */
  tokenize(text: string, options?: { special?: boolean }): number[];
  /** llama_detokenize (remove_special false); `special`: write control tokens' text (default false). */
  detokenize(ids: readonly number[], options?: { special?: boolean }): string;
  /**
   * Log-probabilities of the next token after each position of `tokens`, evaluated from an empty context:
   * result[i][v] = log p(v | tokens[0..i]). NOT raw logits (see the file comment). F32 KV cache, no flash
   * attention, no penalties.
   */
  logProbs(tokens: readonly number[]): Promise<Float32Array[]>;
  /** `n` greedy tokens after `prompt` from an empty context; EOG tokens are returned and generation goes on. */
  greedy(prompt: readonly number[], n: number): Promise<number[]>;
  /** Prompt-evaluation speed in tok/s: median of `runs` timed runs after one warm-up, each from an empty context. */
  timePrefill(tokens: readonly number[], runs?: number): Promise<number>;
  /** Greedy decode speed in tok/s over `nTokens` steps after `prompt` (prefill not timed): median of `runs` after a warm-up. */
  timeDecode(prompt: readonly number[], nTokens: number, runs?: number): Promise<number>;
  dispose(): Promise<void>;
}

let vulkanLlama: Promise<Llama> | undefined;

async function getLlamaFor(gpu: false | 'vulkan'): Promise<Llama> {
  if (gpu === false) return llamaCpp();
  // llama.cpp's Vulkan backend skips CPU-type devices (lavapipe) unless they are listed explicitly.
  process.env.GGML_VK_VISIBLE_DEVICES ??= '0';
  vulkanLlama ??= import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: 'vulkan', build: 'never', logLevel: LlamaLogLevel.error }));
  return vulkanLlama;
}

/** log-softmax in f64, for comparing our logits with `logProbs`. */
export function logSoftmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

export async function openLlamaCpp(ggufPath: string, options: LlamaCppOptions = {}): Promise<LlamaCpp> {
  const { contextSize = 512, gpu = false, threads = 1, vocabOnly = false } = options;
  const llama = await getLlamaFor(gpu);
  const model = await llama.loadModel({ modelPath: ggufPath, vocabOnly, gpuLayers: gpu === false ? 0 : 'max' });
  let context: LlamaContext | undefined;
  let sequence: LlamaContextSequence | undefined;
  if (!vocabOnly) {
    try {
      context = await model.createContext({
        contextSize, threads, sequences: 1, flashAttention: false,
        experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
      });
      sequence = context.getSequence();
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  /** The sequence, emptied: every evaluation starts from position 0. */
  const fresh = async (needed: number): Promise<LlamaContextSequence> => {
    if (!sequence) throw new Error('openLlamaCpp: opened with vocabOnly, cannot evaluate');
    if (needed > contextSize) throw new RangeError(`${needed} tokens do not fit the ${contextSize}-token context`);
    await sequence.clearHistory();
    return sequence;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

  const greedyRun = async (prompt: readonly number[], n: number, onFirst?: () => void): Promise<number[]> => {
    const seq = await fresh(prompt.length + n);
    const out: number[] = [];
    if (n <= 0) return out;
    // The prompt minus its last token is prefilled; the last token starts the decode loop.
    if (prompt.length > 1) await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
    onFirst?.();
    for await (const token of seq.evaluate(prompt.slice(-1) as Token[], { temperature: 0, yieldEogToken: true })) {
      out.push(token);
      if (out.length >= n) break;
    }
    return out;
  };

  return {
    model,
    tokenize: (text, o = {}) => model.tokenize(text, o.special ?? false).map(Number),
    detokenize: (ids, o = {}) => model.detokenize(ids as Token[], o.special ?? false),

    async logProbs(tokens) {
      const seq = await fresh(tokens.length);
      const results = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { probabilities: true } }]));
      return tokens.map((_, i) => {
        const probs = results[i]?.next.probabilities;
        if (!probs) throw new Error(`llama.cpp returned no probabilities for position ${i}`);
        const out = new Float32Array(probs.size);
        for (const [id, p] of probs) {
          if (id >= out.length) throw new Error(`token ${id} outside the ${out.length}-entry distribution`);
          out[id] = Math.log(p);
        }
        return out;
      });
    },

    greedy: (prompt, n) => greedyRun(prompt, n),

    async timePrefill(tokens, runs = 5) {
      const secs: number[] = [];
      for (let r = 0; r <= runs; r++) {
        const seq = await fresh(tokens.length);
        const start = performance.now();
        await seq.evaluateWithoutGeneratingNewTokens(tokens as Token[]);
        if (r > 0) secs.push((performance.now() - start) / 1000);
      }
      return tokens.length / median(secs);
    },

    async timeDecode(prompt, nTokens, runs = 3) {
      if (prompt.length === 0) throw new RangeError('timeDecode needs a prompt of at least one token');
      const secs: number[] = [];
      for (let r = 0; r <= runs; r++) {
        let start = 0;
        const out = await greedyRun(prompt, nTokens, () => { start = performance.now(); });
        const elapsed = (performance.now() - start) / 1000;
        if (out.length !== nTokens) throw new Error(`decoded ${out.length} of ${nTokens} tokens`);
        if (r > 0) secs.push(elapsed);
      }
      return nTokens / median(secs);
    },

    async dispose() {
      await context?.dispose();
      await model.dispose();
    },
  };
}
