// A model's GPU memory beside its weights and KV pool: one batch's activations, the head's logits and
// their argmax rows, the rope table, split attention's partials, and the staging buffers they are
// read back through. Sized here once: the model allocates these sizes, and the memory check and
// `tandem inspect` count them before anything is uploaded.
//
// The logits dominate with a large vocabulary: Qwen2.5's 151,936 entries take 594 KiB a row, so the head
// computes at most maxLogitRows rows (default 17, the verify pass of the longest draft and its bonus row:
// 10 MiB) instead of a whole batch's (128 rows, 74 MiB, and as much again to read them back).

import type { ModelConfig } from './config';
import { ARGMAX_ROW_BYTES } from '../ops/argmax';
import { SPLIT_ATTENTION_MAX_TOKENS } from '../ops/attention';
import { UsageError } from '../common/errors';
import { ROUTE_BYTES } from '../ops/experts';

/** Default ModelRuntimeOptions.maxLogitRows: a draft of 16 tokens and the bonus row (speculative.ts). */
export const DEFAULT_MAX_LOGIT_ROWS = 17;

/** maxLogitRows for a fixed draft length: its verify pass reads k + 1 rows (the CLI allows k up to 64). */
export function logitRowsForDraft(draftLength: number | 'auto' | undefined): number {
  return typeof draftLength === 'number' ? Math.max(DEFAULT_MAX_LOGIT_ROWS, draftLength + 1) : DEFAULT_MAX_LOGIT_ROWS;
}

/** Most passes one decodeChain runs (a draft's longest proposal is 16 tokens; 64 leaves room). */
export const MAX_CHAIN_STEPS = 64;

export type WorkspaceBuffer = 'tokens' | 'x' | 'h' | 'qkv' | 'attn' | 'gateUp' | 'ffn' | 'final' | 'logits' | 'ids' | 'blockTable' | 'rope' | 'partials' | 'chainIds'
  | 'routerLogits' | 'routes' | 'expertOrder' | 'expertGateUp' | 'expertOut' | 'sharedGate';
export type WorkspaceReadback = 'ids' | 'chain' | 'logits';

export interface WorkspacePlan {
  /** Keys per split of decode attention the plan is for (WorkspaceShape.splitKeys). */
  splitKeys: number;
  /** Rows of logits one pass can compute: the option, at most one batch and one storage binding. */
  maxLogitRows: number;
  /** Attention splits of a full context (1 without split-key decode). */
  maxSplits: number;
  /**
   * Passes of up to this many tokens split their attention keys as decode does (SPLIT_ATTENTION_MAX_TOKENS,
   * at most a batch, and at most what one binding of partials holds: 1 keeps only decode split). Below
   * maxLogitRows (a very long context on a small binding limit), the longest verify passes are decode's
   * only up to rounding.
   */
  splitTokens: number;
  /** Bytes of each storage buffer. */
  storage: Record<WorkspaceBuffer, number>;
  /** Bytes of each staging buffer (the logits' is made on the first request that reads logits back). */
  readback: Record<WorkspaceReadback, number>;
  /** All of the above. */
  totalBytes: number;
}

export interface WorkspaceShape {
  maxBatchTokens: number;
  maxContextTokens: number;
  blockSize: number;
  /** Unset: DEFAULT_MAX_LOGIT_ROWS. */
  maxLogitRows?: number;
  /** Keys per split of attention in decode and short batches (0: no split). */
  splitKeys: number;
  /** The most tokens a pass may have and split its keys (1..SPLIT_ATTENTION_MAX_TOKENS, the default). */
  splitTokens?: number;
  /** The device's maxStorageBufferBindingSize: the logits of all rows are one binding. */
  maxBindingBytes: number;
}

export function planWorkspace(c: ModelConfig, s: WorkspaceShape): WorkspacePlan {
  const T = s.maxBatchTokens;
  const f32 = 4;
  const maxLogitRows = Math.max(1, Math.min(T, s.maxLogitRows ?? DEFAULT_MAX_LOGIT_ROWS, Math.floor(s.maxBindingBytes / (c.vocabSize * f32))));
  const maxSplits = s.splitKeys > 0 ? Math.ceil(s.maxContextTokens / s.splitKeys) : 1;
  const partialsPerToken = c.nHeads * maxSplits * (c.headDim + 2) * f32;
  const want = s.splitTokens ?? SPLIT_ATTENTION_MAX_TOKENS;
  if (!(Number.isInteger(want) && want >= 1 && want <= SPLIT_ATTENTION_MAX_TOKENS)) throw new UsageError(`attention split tokens ${want} (1..${SPLIT_ATTENTION_MAX_TOKENS})`);
  const splitTokens = Math.max(1, Math.min(T, want, Math.floor(s.maxBindingBytes / partialsPerToken)));
  // The expert matvecs dispatch a row of workgroups per (token, slot) pair: at most 65,535 of them.
  if (c.experts && T * c.experts.used > 65535) throw new UsageError(`a batch of ${T} tokens with ${c.experts.used} experts a token (at most ${Math.floor(65535 / c.experts.used)} tokens)`);
  // Experts: E router logits a token, and P = T·k (token, slot) pairs of F-wide experts; none for a dense FFN.
  const moe = c.experts ? { E: c.experts.count, P: T * c.experts.used, F: c.experts.ffnDim } : { E: 0, P: 0, F: 0 };
  // The FFNs that run on gateUp and ffn: the dense one, a mixture's shared expert, deepseek's leading dense layers.
  const denseWidth = c.experts ? Math.max(c.experts.shared?.ffnDim ?? 0, c.experts.denseLeadingLayers > 0 ? c.ffnDim : 0) : c.ffnDim;
  const storage: Record<WorkspaceBuffer, number> = {
    tokens: T * 4,
    x: T * c.dModel * f32,
    h: T * c.dModel * f32,
    qkv: T * (c.nHeads + 2 * c.nKvHeads) * c.headDim * f32,
    attn: T * c.nHeads * c.headDim * f32,
    // A dense FFN's [T][gate | up] and its activation; with experts, a shared expert's (none without one).
    gateUp: T * 2 * denseWidth * f32,
    ffn: T * denseWidth * f32,
    final: maxLogitRows * c.dModel * f32,
    logits: maxLogitRows * c.vocabSize * f32,
    // [rows][id, p]: the argmax op's output.
    ids: maxLogitRows * ARGMAX_ROW_BYTES,
    blockTable: Math.ceil(s.maxContextTokens / s.blockSize) * 4,
    // [position][nRot/2] of (cos, sin).
    rope: s.maxContextTokens * c.nRot * f32,
    // [splitTokens][nHeads][splits][headDim + 2].
    partials: splitTokens * partialsPerToken,
    // [MAX_CHAIN_STEPS][id, p]: decodeChain's argmax rows, read back once per chain.
    chainIds: MAX_CHAIN_STEPS * ARGMAX_ROW_BYTES,
    // Experts (ops/experts.ts): [T][E] router logits, [T·k][id, w] routes, [T·k] the pairs in the order the
    // expert matvecs take them (ExpertOrder 'sorted'), [T·k][2 F] gate | up, [T·k][d] outputs.
    routerLogits: T * moe.E * f32,
    routes: moe.P * ROUTE_BYTES,
    expertOrder: moe.P * 4,
    expertGateUp: moe.P * 2 * moe.F * f32,
    expertOut: moe.P * c.dModel * f32,
    // [T]: a gated shared expert's logit a token (qwen2moe).
    sharedGate: c.experts?.shared?.gated ? T * f32 : 0,
  };
  const readback: Record<WorkspaceReadback, number> = { ids: storage.ids, chain: storage.chainIds, logits: storage.logits };
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { splitKeys: s.splitKeys, maxLogitRows, maxSplits, splitTokens, storage, readback, totalBytes: sum(storage) + sum(readback) };
}
