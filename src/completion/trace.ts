// Per-request timing trace: one JSON line per completion request the editor made, with what the editor
// side knows (when the request started, how long the debounce held it, when the answer went back to the
// editor) next to the engine's own timings. Written only when TANDEM_TRACE_FILE names a file; without it
// nothing here is built and the provider pays one `undefined` check per request.
//
// Times that cross processes (`startedAtMs`, `returnedAtMs`) are wall-clock epoch ms (Date.now()), so a
// driver on the same machine (the browser-driven benchmark) can line them up with its own Date.now().

import { createWriteStream, type WriteStream } from 'node:fs';
import type { CompletionBackend, CompletionRun } from './backend';
import type { CompletionOptions, CompletionRequest, CompletionResult, CompletionTimings } from './types';

/**
 * What became of a request: 'shown' (model text handed to the editor), 'reused' (text from the completion
 * cache or typed along, no model call), 'empty' (the model or the cache had nothing worth showing),
 * 'superseded' (a newer keystroke dropped it in the debounce or aborted it in the engine), 'cancelled' (the
 * editor cancelled it), 'skipped' (disabled or no model), 'error'.
 */
export type TraceOutcome = 'shown' | 'reused' | 'empty' | 'superseded' | 'cancelled' | 'skipped' | 'error';

export interface RequestTraceLine {
  /** Order of the request in this extension host. */
  seq: number;
  /** The document's version at the request (each edit bumps it), and the cursor. */
  documentVersion: number;
  line: number;
  character: number;
  /** tandem.promptCache at the request: whether the request carried the document's id. */
  promptCache: boolean;
  /** Epoch ms (Date.now()) when the editor called the provider. */
  startedAtMs: number;
  /** Held by the debounce, ms: from the provider's start to the engine request (absent: never sent). */
  debounceMs?: number;
  /** The backend call (engine process round trip, queue and completion included), ms. */
  backendMs?: number;
  /** Epoch ms when the provider handed its answer (or nothing) back to the editor. */
  returnedAtMs: number;
  outcome: TraceOutcome;
  /** Characters of the text handed to the editor. */
  textChars: number;
  stoppedBy?: CompletionResult['stoppedBy'];
  timings?: CompletionTimings;
}

/** Timestamps of one request as it goes through the service and the backend. */
export interface TraceRecord {
  seq: number;
  startedAtMs: number;
  backendStartedAtMs?: number;
  backendEndedAtMs?: number;
  result?: CompletionResult;
}

export class RequestTracer {
  private readonly out: WriteStream;
  private readonly byRequest = new WeakMap<CompletionRequest, TraceRecord>();
  private seq = 0;

  private constructor(path: string, private readonly now: () => number = Date.now) {
    this.out = createWriteStream(path, { flags: 'a' });
  }

  /** A tracer writing to `path`, or undefined when no path is given (tracing off). */
  static open(path: string | undefined, now?: () => number): RequestTracer | undefined {
    return path ? new RequestTracer(path, now) : undefined;
  }

  /** Starts a request's record; call first thing in the provider, before building the request. */
  begin(): TraceRecord {
    return { seq: ++this.seq, startedAtMs: this.now() };
  }

  /** Ties the request object to its record, so the traced backend can stamp it (the service passes it unchanged). */
  attach(req: CompletionRequest, record: TraceRecord): void {
    this.byRequest.set(req, record);
  }

  /** Whether a request started after `record` (the service drops a debounced request only for a newer one). */
  newerThan(record: TraceRecord): boolean {
    return this.seq > record.seq;
  }

  /** `inner` with each call's start, end and result stamped on its request's record. */
  wrap(inner: CompletionBackend): CompletionBackend {
    return {
      complete: async (req: CompletionRequest, options: CompletionOptions, run: CompletionRun) => {
        const record = this.byRequest.get(req);
        if (record) record.backendStartedAtMs = this.now();
        try {
          const result = await inner.complete(req, options, run);
          if (record) record.result = result;
          return result;
        } finally {
          if (record) record.backendEndedAtMs = this.now();
        }
      },
    };
  }

  /** Writes the request's line; `returnedAtMs` is stamped by the caller as it returns to the editor. */
  end(record: TraceRecord, at: Omit<RequestTraceLine, 'seq' | 'startedAtMs' | 'debounceMs' | 'backendMs' | 'stoppedBy' | 'timings'>): void {
    const r = record;
    const line: RequestTraceLine = {
      seq: r.seq,
      ...at,
      startedAtMs: r.startedAtMs,
      debounceMs: r.backendStartedAtMs === undefined ? undefined : r.backendStartedAtMs - r.startedAtMs,
      backendMs: r.backendStartedAtMs === undefined || r.backendEndedAtMs === undefined ? undefined : r.backendEndedAtMs - r.backendStartedAtMs,
      stoppedBy: r.result?.stoppedBy,
      timings: r.result?.timings,
    };
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  /** Ends the file; resolves when every line is written. */
  dispose(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}

/** What a request that the service answered with nothing became, from its record. */
export function quietOutcome(tracer: RequestTracer, record: TraceRecord): TraceOutcome {
  if (record.result) return record.result.stoppedBy === 'cancelled' ? 'superseded' : 'empty';
  // Never sent to the backend: either a newer request ended its debounce, or the cache held an empty
  // completion for this place (answered synchronously, before any newer request could start).
  return tracer.newerThan(record) ? 'superseded' : 'empty';
}
