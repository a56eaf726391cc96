// Messages between RepackPool (the loading thread) and its worker threads (repackWorker.ts). The arrays
// live in SharedArrayBuffers, which both threads see, so a 16 MB piece changes threads without a copy
// and without a transfer (transferred ArrayBuffers count as fresh allocations to V8's GC heuristics:
// they tripled the loading thread's GC time).

import type { WeightDtype } from './repack';

/** A byte range of a shared buffer. */
export interface Span {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

export interface RepackRequest {
  id: number;
  dtype: WeightDtype;
  /** Whole GGUF blocks. */
  src: Span;
  /** Where the quants go, and the scales (4-byte aligned). */
  data: Span;
  scales: Span;
}

export interface RepackReply {
  id: number;
  /** Set when the repack threw. */
  error?: string;
}
