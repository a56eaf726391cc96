// A full garbage collection on demand, for figures of the live heap (the soak bench, memory tests).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Makes `globalThis.gc` available where node was started without --expose-gc (benchmarks and tests only). */
export function exposeGc(): () => void {
  const g = globalThis as { gc?: () => void };
  if (typeof g.gc !== 'function') {
    setFlagsFromString('--expose-gc');
    g.gc = runInNewContext('gc') as () => void;
  }
  return g.gc!;
}

/** Bytes of JS heap in use after a full collection. */
export function liveHeapBytes(): number {
  exposeGc()();
  return process.memoryUsage().heapUsed;
}
