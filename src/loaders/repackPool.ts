// Worker threads that repack GGUF blocks into the kernels' layouts, and requantize a self-draft's rows
// (repackWorker.ts), so loading a model uses every core while the loading thread reads the file and
// writes to the GPU. These are the loader's CPU costs: the repack runs at ~1-2 GB/s a thread (a 7B
// Q4_K_M file is 4.4 GB), the requantize at ~60 MB/s.
//
// One pool per process, started on first use: a thread costs ~30 ms to start, and a model loads in
// hundreds of pieces. Idle threads are unref'd, so they never keep a process alive, and they exit after
// IDLE_EXIT_MS so a process that loaded its models once does not keep their memory.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WeightDtype } from './repack';
import { SpareBuffers } from '../common/spareBuffers';
import type { PoolReply, PoolRequest, RequantizeRequest, Span } from './repackProtocol';
import { ModelFormatError } from '../common/errors';

/** The arrays of one repack, each a view of a SharedArrayBuffer: the GGUF blocks, and where their quants and scales go. */
export interface RepackArrays {
  src: Uint8Array;
  data: Uint8Array;
  scales: Uint8Array;
}

/**
 * More repack threads than this would outrun a PCIe upload, and each adds a piece in flight (16 MB of
 * GGUF bytes and as much repacked, uploadQueue.ts) to the host memory a load holds.
 */
const MAX_THREADS = 8;
const IDLE_EXIT_MS = 30_000;
const WORKER_FILE = 'repackWorker.js';

interface Job {
  request: PoolRequest;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  job: Job | null;
}

export class RepackPool {
  private readonly threads: Thread[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Set when a thread died unexpectedly; the pool then takes no more work (loaders repack inline). */
  private brokenBy: string | null = null;
  /**
   * The shared memory pieces are read into and repacked into, reused from load to load. Each message
   * gives a thread its own handle on a SharedArrayBuffer, which holds the memory until that thread's
   * GC runs, and a thread that only repacks rarely collects: buffers made per load were never freed
   * (50 MB more per load of a 68 MB model). Reusing them bounds that; an idle exit frees them.
   */
  readonly shared: SpareBuffers<SharedArrayBuffer>;

  constructor(private readonly workerPath: string, readonly maxThreads: number) {
    this.shared = new SpareBuffers((n) => new SharedArrayBuffer(n), 3 * (maxThreads + 1) + 1);
  }

  /** Why the pool takes no more work, or null while it does. */
  get broken(): string | null {
    return this.brokenBy;
  }

  /** Repacks whole GGUF blocks of `dtype` from `src` into `data` and `scales` on a worker thread. */
  repack(dtype: WeightDtype, arrays: RepackArrays): Promise<void> {
    return this.submit({ kind: 'repack', id: this.nextId++, dtype, src: spanOf(arrays.src), data: spanOf(arrays.data), scales: spanOf(arrays.scales) });
  }

  /**
   * Rows of a tensor requantized on a worker thread, which reads them from the file itself (see
   * RequantizeRequest), into `out` (a view of a SharedArrayBuffer, exactly the rows' bytes as `to`).
   */
  requantize(rows: Omit<RequantizeRequest, 'kind' | 'id' | 'out'>, out: Uint8Array): Promise<void> {
    return this.submit({ ...rows, kind: 'requantize', id: this.nextId++, out: spanOf(out) });
  }

  private submit(request: PoolRequest): Promise<void> {
    if (this.brokenBy) return Promise.reject(new Error(`repack worker pool: ${this.brokenBy}`));
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; jobs still running or waiting are rejected. */
  async close(): Promise<void> {
    this.brokenBy ??= 'closed';
    this.clearIdleTimer();
    this.shared.clear();
    for (const job of this.waiting.splice(0)) job.reject(new Error(`repack worker pool: ${this.brokenBy}`));
    const threads = this.threads.splice(0);
    for (const t of threads) t.job?.reject(new Error(`repack worker pool: ${this.brokenBy}`));
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let thread = this.threads.find((t) => t.job === null);
      if (!thread) {
        if (this.threads.length >= this.maxThreads) return;
        try {
          thread = this.startThread();
        } catch (e) {
          // No thread to be had (out of memory, too many threads): the queued jobs fail as if one had died.
          this.brokenBy ??= `no worker thread could start: ${e instanceof Error ? e.message : String(e)}`;
          void this.close();
          return;
        }
      }
      const job = this.waiting.shift()!;
      thread.job = job;
      thread.worker.ref();
      this.clearIdleTimer();
      thread.worker.postMessage(job.request);
    }
  }

  private startThread(): Thread {
    const worker = new Worker(this.workerPath);
    const thread: Thread = { worker, job: null };
    worker.on('message', (reply: PoolReply) => {
      const job = thread.job;
      if (!job || job.request.id !== reply.id) return;
      thread.job = null;
      worker.unref();
      if (reply.error === undefined) job.resolve();
      else job.reject(jobError(job.request, reply));
      this.dispatch();
      this.armIdleTimer();
    });
    const die = (why: string) => {
      const i = this.threads.indexOf(thread);
      if (i < 0) return; // closed, or already handled
      this.threads.splice(i, 1);
      this.brokenBy ??= why;
      thread.job?.reject(new Error(`repack worker pool: ${why}`));
      void this.close(); // the other threads, and the jobs waiting for them
    };
    worker.on('error', (e) => die(`a worker thread failed: ${e.message}`));
    worker.on('exit', (code) => die(`a worker thread exited (code ${code})`));
    this.threads.push(thread);
    return thread;
  }

  private armIdleTimer(): void {
    if (this.idleTimer || this.threads.some((t) => t.job !== null)) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.threads.some((t) => t.job !== null)) return;
      // Idle threads leave quietly, and the shared memory with them; the next repack starts anew.
      this.shared.clear();
      const idle = this.threads.splice(0);
      for (const t of idle) {
        t.worker.removeAllListeners('exit');
        void t.worker.terminate();
      }
    }, IDLE_EXIT_MS);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

function spanOf(a: Uint8Array): Span {
  if (!(a.buffer instanceof SharedArrayBuffer)) throw new TypeError('RepackPool: arrays must be views of SharedArrayBuffers');
  return { buffer: a.buffer, offset: a.byteOffset, length: a.byteLength };
}

function jobError(request: PoolRequest, reply: PoolReply): Error {
  if (reply.formatField && request.kind === 'requantize') return new ModelFormatError(reply.formatField, reply.error!, request.path);
  const what = request.kind === 'repack' ? `repack of ${request.dtype} blocks` : `requantize of ${request.tensor}`;
  return new Error(`${what} failed: ${reply.error}`);
}

/** repackWorker.js beside this bundle (dist/, dist-bench/) or one folder up (dist-test/<suite>/). */
export function findRepackWorker(dir = __dirname): string | null {
  for (const d of [dir, join(dir, '..')]) {
    const p = join(d, WORKER_FILE);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Threads for a machine: one core is left to the loading thread (reads, GPU writes). */
export function repackThreadsFor(cores = availableParallelism()): number {
  return Math.max(1, Math.min(MAX_THREADS, cores - 1));
}

let shared: RepackPool | null | undefined;
let brokenPools = 0;

/**
 * The process's pool, or null where there is no worker script (a bundle built without it),
 * TANDEM_REPACK_THREADS=0, or after two pools lost a thread (loaders then repack on their own thread).
 */
export function sharedRepackPool(): RepackPool | null {
  if (shared?.broken && ++brokenPools >= 2) shared = null;
  if (shared === undefined || shared?.broken) {
    const path = findRepackWorker();
    const env = process.env.TANDEM_REPACK_THREADS;
    const threads = env !== undefined && env !== '' ? Math.min(MAX_THREADS, Math.max(0, Math.floor(Number(env)) || 0)) : repackThreadsFor();
    shared = path && threads > 0 ? new RepackPool(path, threads) : null;
  }
  return shared;
}
