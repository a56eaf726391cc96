// How long waits for the GPU poll. dawn.node notices finished GPU work (a mapAsync, onSubmittedWorkDone)
// only when the device is ticked, so while any such promise is pending its AsyncRunner passes a new native
// function to the global setImmediate, which ticks the device and queues itself again: a busy loop, one
// turn per turn of the event loop, for as long as the GPU works. Measured on lavapipe (2 cores): ~1M turns
// a second, a core at 100%, and ~140 MB/s of garbage (a function object per turn; a GC every ~150 ms),
// and the polling core is one the software adapter's own threads then lack.
//
// Tandem keeps the busy loop for short waits, where a turn of the event loop is the quickest way to see
// a readback finish, and slows it down for long ones: dawn's next tick (a native function queued from
// inside the previous one) waits for a 1 ms timer instead once no GPU promise has settled for `spinMs`.
// A wait that has lasted that long is a long pass (a prefill, a big model's step, a software adapter),
// which then ends at most ~1 ms before it is noticed; a decode pipeline keeps the next pass queued on the
// GPU meanwhile. Nothing else is touched: other setImmediate callers (JavaScript functions) get the real
// one, and where no dawn.node is in use (a browser's navigator.gpu) nothing is installed.

/**
 * Default for how long a wait may poll every turn: past it, a tick waits for a 1 ms timer. 5 ms keeps
 * dawn's loop for a small model's decode and verify passes on a GPU (a timer would notice their end up
 * to ~1 ms late, 10-20% of such a pass) and slows only the waits where that costs a few percent at most.
 * On lavapipe 0, 1, 2 and 5 ms gave the same speeds (bench gpu-wait); device-run.sh measures them on a GPU.
 */
export const DEFAULT_SPIN_MS = 5;

interface TickState {
  spinMs: number;
  /** When a GPU promise last settled, or a new wait began (performance.now()). */
  lastProgress: number;
  /** Inside a tick of dawn's that we ran: a setImmediate call then is the tick queueing its successor. */
  inTick: boolean;
  immediate: number;
  timed: number;
}

const STATE_KEY = Symbol.for('tandem.dawnTicks');

function state(): TickState | undefined {
  return (globalThis as Record<symbol, TickState | undefined>)[STATE_KEY];
}

/** dawn's ticks are anonymous native functions (N-API's); named ones and JavaScript functions are not ticks. */
const isNative = (fn: unknown): boolean => typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');

/** `spinMs` from TANDEM_GPU_SPIN_MS when it is a number >= 0 ('Infinity': dawn's own busy loop). */
function spinMsFromEnv(): number {
  const v = Number(process.env.TANDEM_GPU_SPIN_MS);
  return process.env.TANDEM_GPU_SPIN_MS !== undefined && v >= 0 ? v : DEFAULT_SPIN_MS;
}

/**
 * Installs the policy (once per process; later calls do nothing): wraps the global setImmediate, and
 * `promiseMethods` (dawn.node's prototypes and the names of their promise-returning methods whose
 * settling is progress: GPUBuffer.mapAsync, GPUQueue.onSubmittedWorkDone).
 */
export function installTickPolicy(promiseMethods: ReadonlyArray<[proto: object, name: string]>): void {
  const g = globalThis as Record<symbol, TickState | undefined> & { setImmediate: typeof setImmediate };
  if (g[STATE_KEY]) return;
  const s: TickState = { spinMs: spinMsFromEnv(), lastProgress: performance.now(), inTick: false, immediate: 0, timed: 0 };
  g[STATE_KEY] = s;
  const progress = (): void => {
    s.lastProgress = performance.now();
  };
  for (const [proto, name] of promiseMethods) {
    const p = proto as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = p[name];
    if (typeof original !== 'function') continue;
    p[name] = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      // A promise of our own, so a caller's missing rejection handler is still reported as unhandled.
      return original.apply(this, args).then((v) => { progress(); return v; }, (e: unknown) => { progress(); throw e; });
    };
  }
  const realSetImmediate = g.setImmediate;
  const wrapped = function (fn: (...args: unknown[]) => void, ...args: unknown[]): unknown {
    if (!isNative(fn) || args.length > 0) return realSetImmediate(fn, ...args);
    // A tick queued from outside a tick starts a wait.
    if (!s.inTick) s.lastProgress = performance.now();
    const run = (): void => {
      s.inTick = true;
      try {
        fn();
      } finally {
        s.inTick = false;
      }
    };
    // Decided on the next turn, not now: a tick that settles a promise queues its successor before the
    // promise's handlers (and ours, which note the progress) have run.
    return realSetImmediate(() => {
      if (performance.now() - s.lastProgress < s.spinMs) {
        s.immediate++;
        run();
      } else {
        s.timed++;
        setTimeout(run, 1);
      }
    });
  };
  // Keep what code may read off setImmediate (util.promisify's custom form).
  Object.assign(wrapped, realSetImmediate);
  g.setImmediate = wrapped as unknown as typeof setImmediate;
}

/** How long a wait polls every turn before ticking on a timer (Infinity: always; 0: never). Returns the previous value. */
export function setSpinMs(ms: number): number {
  const s = state();
  if (!s) return NaN;
  const before = s.spinMs;
  s.spinMs = ms;
  return before;
}

/** dawn.node's ticks so far: run on the next turn of the event loop, and on a timer. */
export function tickCounts(): { immediate: number; timed: number } {
  const s = state();
  return { immediate: s?.immediate ?? 0, timed: s?.timed ?? 0 };
}
