// How long to wait after a keystroke before asking the model: long enough not to start work that the next
// keystroke throws away, short enough that a pause shows a suggestion at once. The wait follows the user's
// own rhythm: a little over their typical gap between keystrokes, within [minMs, maxMs].

export interface AdaptiveDebounceOptions {
  /** The wait when adaptation is off, and before there is any history. */
  baseMs: number;
  minMs?: number;
  maxMs?: number;
  adaptive?: boolean;
}

export class AdaptiveDebounce {
  /** Recent gaps between requests, ms; gaps over 1 s are pauses, not typing rhythm. */
  private readonly gapsMs: number[] = [];
  private lastAtMs = -Infinity;

  constructor(private o: AdaptiveDebounceOptions) {}

  configure(o: AdaptiveDebounceOptions): void {
    this.o = o;
  }

  /** Records a keystroke (a request) at `nowMs` and returns how long to wait before acting on it. */
  next(nowMs: number): number {
    const gap = nowMs - this.lastAtMs;
    this.lastAtMs = nowMs;
    if (gap > 0 && gap < 1000) {
      this.gapsMs.push(gap);
      if (this.gapsMs.length > 16) this.gapsMs.shift();
    }
    return this.delayMs();
  }

  delayMs(): number {
    const { baseMs, minMs = Math.min(50, baseMs), maxMs = Math.max(600, baseMs), adaptive = true } = this.o;
    if (!adaptive || this.gapsMs.length < 4) return baseMs;
    const sorted = [...this.gapsMs].sort((a, b) => a - b);
    const typicalGap = sorted[Math.floor(sorted.length * 0.75)];
    return Math.round(Math.min(maxMs, Math.max(minMs, typicalGap * 1.3)));
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
