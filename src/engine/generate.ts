// The plain generation loop over one sequence: prefill the prompt in batches, then decode one token per
// forward pass. Greedy decoding reads back only the GPU's argmax and its probability (8 bytes); sampling
// reads the logits row. Greedy decoding on a model with a pipeline depth above 1 keeps passes in flight
// (GreedyStream): the output is the same, and the passes run past a stop are discarded.

import { CancelledError } from '../common/errors';
import type { LlamaModel } from '../model/llama';
import type { Sequence } from '../kvcache/sequence';
import { GREEDY, isGreedy, Rng, sample, tokenProbability, type SamplingOptions } from './sampler';
import { GreedyStream } from '../model/greedyStream';

export interface GenerateOptions {
  maxTokens: number;
  sampling?: SamplingOptions;
  /** Token ids that end generation (not included in the output). */
  stopTokens?: ReadonlySet<number>;
  signal?: AbortSignal;
  /**
   * Called with each new token and the model's probability of it (softmax of the raw logits, temperature
   * 1, whatever the sampling); return false to stop.
   */
  onToken?: (id: number, probability: number) => boolean | void;
  /** Greedy passes in flight (1: one at a time); default: the model's pipelineDepth. */
  pipelineDepth?: number;
  /** The prompt's prefill (the tokens the cache lacks): called after each pass, see PrefillProgress. */
  onPrefill?: PrefillProgress;
}

/** `done` of `total` prompt tokens submitted to the GPU (total: those this request prefills, not those reused). */
export type PrefillProgress = (done: number, total: number) => void;

export interface GenerateResult {
  tokens: number[];
  stoppedBy: 'maxTokens' | 'stopToken' | 'callback';
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** Forward passes of the decode phase whose token was used. */
  decodePasses: number;
  /** Passes run ahead past the stop and discarded (pipelined greedy decoding). */
  discardedPasses: number;
}

/** The last position's argmax, its probability, and (when asked for) its logits row. */
export interface NextToken {
  id: number;
  p: number;
  logits?: Float32Array;
}

/**
 * Runs `tokens` through the model into `seq` (which may already hold a prefix) and returns the
 * argmax / logits of the last position. Splits into batches of the model's maximum.
 */
export async function prefill(model: LlamaModel, seq: Sequence, tokens: number[], wantLogits: boolean, signal?: AbortSignal, onProgress?: PrefillProgress): Promise<NextToken> {
  if (tokens.length === 0) throw new RangeError('prefill of no tokens');
  const B = model.maxBatchTokens;
  let last: NextToken = { id: -1, p: NaN };
  for (let at = 0; at < tokens.length; at += B) {
    const batch = tokens.slice(at, at + B);
    const isLast = at + B >= tokens.length;
    const onPass = onProgress && ((n: number) => onProgress(at + n, tokens.length));
    const r = await model.forward({ tokens: batch, seq, logitRows: isLast ? 1 : 0, wantLogits: isLast && wantLogits, signal, onPass });
    if (isLast) last = { id: r.ids[0], p: r.probs?.[0] ?? NaN, logits: r.logits };
  }
  return last;
}

export async function generate(model: LlamaModel, seq: Sequence, prompt: number[], o: GenerateOptions): Promise<GenerateResult> {
  const sampling = o.sampling ?? GREEDY;
  const greedy = isGreedy(sampling);
  const rng = new Rng(sampling.seed);
  const out: number[] = [];
  const t0 = performance.now();
  let next = await prefill(model, seq, prompt, !greedy, o.signal, o.onPrefill);
  const t1 = performance.now();
  let stoppedBy: GenerateResult['stoppedBy'] = 'maxTokens';
  let passes = 0;
  const depth = greedy ? (o.pipelineDepth ?? model.pipelineDepth) : 1;
  let stream: GreedyStream | undefined;
  try {
    while (out.length < o.maxTokens) {
      const id = greedy ? next.id : sample(next.logits!, sampling, rng);
      if (o.stopTokens?.has(id)) { stoppedBy = 'stopToken'; break; }
      out.push(id);
      const p = greedy ? next.p : tokenProbability(next.logits!, id);
      if (o.onToken?.(id, p) === false) { stoppedBy = 'callback'; break; }
      if (out.length >= o.maxTokens) break;
      if (o.signal?.aborted) throw new CancelledError();
      if (depth > 1) {
        // The stream feeds each argmax on the GPU: `id` is the token its next pass runs on. It runs no
        // pass past the token budget.
        stream ??= new GreedyStream(model, seq, id, { depth, maxPasses: o.maxTokens - 1, signal: o.signal });
        next = await stream.next();
      } else {
        const r = await model.forward({ tokens: [id], seq, logitRows: 1, wantLogits: !greedy, signal: o.signal });
        next = { id: r.ids[0], p: r.probs?.[0] ?? NaN, logits: r.logits };
      }
      passes++;
    }
  } finally {
    // Keeps the positions of the tokens fed and used; the passes run ahead of the stop are dropped.
    stream?.close();
  }
  return { tokens: out, stoppedBy, promptTokens: prompt.length, prefillMs: t1 - t0, decodeMs: performance.now() - t1, decodePasses: passes, discardedPasses: stream?.discarded ?? 0 };
}
