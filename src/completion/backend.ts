// What the completion flow (service.ts) asks of whatever produces completions: the local engine process
// (host/engine/client.ts) or an inference server (remote/backend.ts). Both return post-processed text under
// the same stop rules; reuse, debounce and one-request-in-flight stay in the service, above either.
// Also here: the switch that lets settings change the backend without rebuilding the service, and the
// fallback from the remote server to the local engine.

import type { CompletionOptions, CompletionRequest, CompletionResult } from './types';

export interface CompletionRun {
  /** Aborting ends the completion (the engine stops before its next token; the server's socket closes). */
  signal?: AbortSignal;
  /** Raw text as it streams, before post-processing. */
  onChunk?: (text: string) => void;
}

export interface CompletionBackend {
  complete(request: CompletionRequest, options: CompletionOptions, run: CompletionRun): Promise<CompletionResult>;
}

/** The backend currently chosen in the settings; `use` swaps it between requests (no reload). */
export class SwitchableBackend implements CompletionBackend {
  constructor(private current: CompletionBackend) {}

  use(backend: CompletionBackend): void {
    this.current = backend;
  }

  get backend(): CompletionBackend {
    return this.current;
  }

  complete(request: CompletionRequest, options: CompletionOptions, run: CompletionRun): Promise<CompletionResult> {
    return this.current.complete(request, options, run);
  }
}

export interface FallbackOptions {
  /** Whether the fallback can answer now (the local engine has a model loaded). */
  fallbackReady: () => boolean;
  /** Called with the primary's error each time the fallback answers instead. */
  onFallback?: (error: unknown) => void;
  /** Errors that must not be covered up by the fallback (e.g. a cancelled request); default: none. */
  passThrough?: (error: unknown) => boolean;
}

/**
 * The primary backend, and when it fails, the fallback for the same request. A cancel is not a failure.
 * When the fallback cannot answer either, the primary's error is the one the user sees.
 */
export class FallbackBackend implements CompletionBackend {
  constructor(private readonly primary: CompletionBackend, private readonly fallback: CompletionBackend, private readonly o: FallbackOptions) {}

  async complete(request: CompletionRequest, options: CompletionOptions, run: CompletionRun): Promise<CompletionResult> {
    try {
      return await this.primary.complete(request, options, run);
    } catch (e) {
      if (run.signal?.aborted || this.o.passThrough?.(e) || !this.o.fallbackReady()) throw e;
      this.o.onFallback?.(e);
      return this.fallback.complete(request, options, run);
    }
  }
}
