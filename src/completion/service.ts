// The completion flow between an editor and an engine, without either: reuse (typed along / recent),
// adaptive debounce, one request in flight (a new keystroke aborts the previous request), and the
// statistics a user sees. The editor adapter (src/vscode/provider.ts) is a thin shell around provide().

import type { CompletionBackend } from './backend';
import { AdaptiveDebounce, delay } from './debounce';
import { CompletionCache } from './reuse';
import type { CompletionOptions, CompletionRequest, CompletionResult } from './types';

export type { CompletionBackend } from './backend';

export interface ServiceSettings {
  debounceMs: number;
  adaptiveDebounce: boolean;
  options: CompletionOptions;
}

export interface Served {
  text: string;
  source: 'model' | 'cache' | 'typed-along';
  result?: CompletionResult;
}

export interface ServiceStats {
  requests: number;
  served: { model: number; cache: number; typedAlong: number };
  /** Requests dropped by the debounce or cancelled by the editor. */
  cancelled: number;
  empty: number;
  errors: number;
  debounceMs: number;
  /** Keystroke-to-result latency of model completions, ms (debounce included). */
  latencyMsP50: number;
  latencyMsP95: number;
}

export class CompletionService {
  private readonly cache = new CompletionCache();
  private readonly debounce: AdaptiveDebounce;
  private current: AbortController | undefined;
  private readonly latenciesMs: number[] = [];
  private readonly counts = { requests: 0, model: 0, cache: 0, typedAlong: 0, cancelled: 0, empty: 0, errors: 0 };

  constructor(private readonly backend: CompletionBackend, private settings: ServiceSettings, private readonly now: () => number = () => performance.now()) {
    this.debounce = new AdaptiveDebounce({ baseMs: settings.debounceMs, adaptive: settings.adaptiveDebounce });
  }

  configure(settings: ServiceSettings): void {
    this.settings = settings;
    this.debounce.configure({ baseMs: settings.debounceMs, adaptive: settings.adaptiveDebounce });
    // Completions made under other options (template, length) are not what the user now asks for.
    this.cache.clear();
  }

  clearCache(): void {
    this.cache.clear();
  }

  /**
   * The completion at the cursor, or undefined when there is none to show (cancelled, superseded,
   * empty). `explicit` (the user asked) skips the debounce.
   */
  async provide(req: CompletionRequest, o: { signal?: AbortSignal; explicit?: boolean } = {}): Promise<Served | undefined> {
    const t0 = this.now();
    this.counts.requests++;
    const waitMs = this.debounce.next(t0);
    const reused = this.cache.get(req.prefix, req.suffix);
    if (reused) {
      if (reused.source === 'cache') this.counts.cache++;
      else this.counts.typedAlong++;
      return reused.text ? { text: reused.text, source: reused.source } : undefined;
    }
    this.current?.abort();
    const ac = new AbortController();
    this.current = ac;
    const onOuterAbort = () => ac.abort();
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    try {
      if (!o.explicit && !(await delay(waitMs, ac.signal))) {
        this.counts.cancelled++;
        return undefined;
      }
      const result = await this.backend.complete(req, this.settings.options, { signal: ac.signal });
      if (result.stoppedBy === 'cancelled') {
        this.counts.cancelled++;
        return undefined;
      }
      this.cache.set(req.prefix, req.suffix, result.text);
      this.counts.model++;
      this.latenciesMs.push(this.now() - t0);
      if (this.latenciesMs.length > 500) this.latenciesMs.shift();
      if (!result.text) {
        this.counts.empty++;
        return undefined;
      }
      return { text: result.text, source: 'model', result };
    } catch (e) {
      this.counts.errors++;
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', onOuterAbort);
      if (this.current === ac) this.current = undefined;
    }
  }

  stats(): ServiceStats {
    const sorted = [...this.latenciesMs].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
    const c = this.counts;
    return {
      requests: c.requests,
      served: { model: c.model, cache: c.cache, typedAlong: c.typedAlong },
      cancelled: c.cancelled,
      empty: c.empty,
      errors: c.errors,
      debounceMs: this.debounce.delayMs(),
      latencyMsP50: pct(0.5),
      latencyMsP95: pct(0.95),
    };
  }
}
