// Messages between RepackPool (the loading thread) and its worker threads (repackWorker.ts). The arrays
// live in SharedArrayBuffers, which both threads see, so a 16 MB piece changes threads without a copy
// and without a transfer (transferred ArrayBuffers count as fresh allocations to V8's GC heuristics:
// they tripled the loading thread's GC time).

import type { GgmlType } from './gguf/types';
import type { WeightDtype } from './repack';

/** A byte range of a shared buffer. */
export interface Span {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** GGUF blocks split into the kernels' layouts (repack.ts). */
export interface RepackRequest {
  kind: 'repack';
  id: number;
  dtype: WeightDtype;
  /** Whole GGUF blocks. */
  src: Span;
  /** Where the quants go, and the scales (4-byte aligned). */
  data: Span;
  scales: Span;
}

/**
 * Rows of a tensor read from the file by the thread itself and requantized (requantize.ts): `rows` rows
 * of `cols` values stored as `from` at byte `fileOffset` of `path`, written to `out` as `to`.
 */
export interface RequantizeRequest {
  kind: 'requantize';
  id: number;
  path: string;
  tensor: string;
  fileOffset: number;
  from: GgmlType;
  to: GgmlType;
  cols: number;
  rows: number;
  out: Span;
  /** Values per step (default requantize.ts's); tests make steps small to cross their edges. */
  stepElements?: number;
}

export type PoolRequest = RepackRequest | RequantizeRequest;

export interface PoolReply {
  id: number;
  /** Set when the job threw. */
  error?: string;
  /** Set when the file ended before the rows (it was truncated after it was opened): the field to name. */
  formatField?: string;
}
