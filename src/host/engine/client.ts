// The extension host's handle on the engine process: chooses a real Node.js runtime for it (never Electron:
// dawn.node cannot map buffers there; see src/host/runtime), spawns it there, sends typed requests and matches the answers, streams completion chunks, cancels, and survives the engine dying.
// A crash (exit that we did not ask for, or a cancel the engine does not answer in time: a hung kernel)
// fails the requests in flight, is reported through onState, and the engine is restarted with
// exponential backoff and given back its model. No 'vscode' import: tests drive it directly.

import { fork, type ChildProcess } from 'node:child_process';
import type { CompletionOptions, CompletionRequest, CompletionResult } from '../../completion/types';
import { CancelledError } from '../../common/errors';
import {
  describeRejection, NoNodeRuntimeError, runtimeSpawnEnv, selectNodeRuntime, type DownloadProgress, type SelectedNodeRuntime,
  type SelectNodeRuntimeOptions,
} from '../runtime';
import type { EngineEvent, EngineRequest, EngineStats, LoadParams, ModelInfo, WireError } from './protocol';
import { checkPrefillLimits, type PrefillLimits } from '../../model/prefillLimits';

export type EngineState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  /** Selection found no local runtime and is fetching an official Node.js build (minutes on a slow link). */
  | { kind: 'downloading-runtime'; progress: DownloadProgress }
  /** No runtime passed the self-test; `reasons` says why each candidate was refused. */
  | { kind: 'no-runtime'; message: string; hint: string; reasons: string[] }
  | { kind: 'loading'; loadedBytes: number; totalBytes: number }
  | { kind: 'ready'; model: ModelInfo | undefined }
  | { kind: 'crashed'; reason: string; restartInMs: number; restarts: number }
  | { kind: 'error'; error: WireError };

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface EngineClientOptions {
  /** The engine bundle (dist/engine.js). */
  enginePath: string;
  /** How the runtime is chosen (tandem.nodePath, download, storage folder); selected once, on the first start. */
  runtime: EngineRuntimeOptions;
  /** The engine's environment before runtimeSpawnEnv (ELECTRON_RUN_AS_NODE, no NODE_OPTIONS); default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: (level: LogLevel, message: string) => void;
  /** First restart delay after a crash; doubled per crash in a row up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run this long without a crash resets the backoff. */
  stableMs?: number;
  /** An engine that does not answer a cancel within this is taken as hung and killed (default 20 s: a first
   *  forward pass on a software adapter compiles pipelines for seconds). */
  cancelGraceMs?: number;
}

export type EngineRuntimeOptions = Omit<SelectNodeRuntimeOptions, 'onProgress' | 'signal' | 'log'>;

/** An error the engine reported, with its stable code and the hint for the user. */
export class EngineError extends Error {
  readonly code: string;
  readonly hint?: string;
  constructor(readonly wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    this.code = wire.code;
    this.hint = wire.hint;
  }
}

export class EngineCrashedError extends Error {
  readonly code = 'ENGINE_CRASHED';
  readonly hint = 'The engine restarts by itself; "Tandem: Show Logs" has the details.';
  constructor(reason: string) {
    super(`the engine process stopped: ${reason}`);
    this.name = 'EngineCrashedError';
  }
}

interface Pending {
  resolve: (e: EngineEvent) => void;
  reject: (e: Error) => void;
  onEvent?: (e: EngineEvent) => void;
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(s: EngineState) => void>();
  private readonly prefillListeners = new Set<(p: PrefillState | undefined) => void>();
  private stateValue: EngineState = { kind: 'stopped' };
  private modelParams: LoadParams | undefined;
  /** The prefill limits asked for last (by load or tune, in call order): what every load sends. */
  private prefill: PrefillLimits = {};
  private model: ModelInfo | undefined;
  private crashesInRow = 0;
  private startedAtMs = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private startPromise: Promise<void> | undefined;
  private runtimeOptions: EngineRuntimeOptions;
  private selected: SelectedNodeRuntime | undefined;
  private selecting: AbortController | undefined;
  /** Restarts after crashes since this client was made. */
  restarts = 0;

  constructor(private readonly o: EngineClientOptions) {
    this.runtimeOptions = o.runtime;
  }

  get state(): EngineState {
    return this.stateValue;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get modelInfo(): ModelInfo | undefined {
    return this.model;
  }

  /** The runtime the engine runs (or will run) on, once chosen. */
  get runtime(): SelectedNodeRuntime | undefined {
    return this.selected;
  }

  /** New runtime settings: the next start selects again (the caller restarts the engine). */
  configureRuntime(o: EngineRuntimeOptions): void {
    this.runtimeOptions = o;
    this.selected = undefined;
  }

  /** Stops a runtime download in progress (the progress notification's Cancel); the start fails. */
  cancelRuntimeDownload(): void {
    this.selecting?.abort();
  }

  onState(listener: (s: EngineState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /**
   * A long prompt prefill of the running completion: `done` of `total` tokens, then undefined when that
   * request ends (the status bar's progress). Quick prefills report nothing (see the 'prefill' event).
   */
  onPrefill(listener: (p: PrefillState | undefined) => void): { dispose(): void } {
    this.prefillListeners.add(listener);
    return { dispose: () => this.prefillListeners.delete(listener) };
  }

  private setPrefill(p: PrefillState | undefined): void {
    for (const l of this.prefillListeners) l(p);
  }

  private setState(s: EngineState): void {
    this.stateValue = s;
    for (const l of this.listeners) l(s);
  }

  private log(level: LogLevel, message: string): void {
    this.o.log?.(level, message);
  }

  /** Starts the engine process (once); resolves when it has said it is up. */
  start(): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('the engine client is disposed'));
    this.startPromise ??= this.spawn().catch((e) => {
      this.startPromise = undefined;
      throw e;
    });
    return this.startPromise;
  }

  /** The chosen runtime (cached); the self-test results are cached on disk too, so a restart is quick. */
  private async selectRuntime(): Promise<SelectedNodeRuntime> {
    if (this.selected) return this.selected;
    const ac = new AbortController();
    this.selecting = ac;
    try {
      this.selected = await selectNodeRuntime({
        ...this.runtimeOptions,
        signal: ac.signal,
        log: (line) => this.log('info', line),
        onProgress: (progress) => this.setState({ kind: 'downloading-runtime', progress }),
      });
      return this.selected;
    } catch (e) {
      let err = e;
      // A cancelled download leaves no runtime either: one state and one error for both.
      if (e instanceof CancelledError) {
        err = new NoNodeRuntimeError([{ source: 'download', path: this.runtimeOptions.download?.baseUrl ?? 'nodejs.org', reason: 'download-failed', detail: 'the download was cancelled' }], true);
      }
      if (err instanceof NoNodeRuntimeError) {
        this.log('error', err.message);
        this.setState({ kind: 'no-runtime', message: 'no Node.js runtime for the engine', hint: err.hint, reasons: err.rejected.map(describeRejection) });
      }
      throw err;
    } finally {
      this.selecting = undefined;
    }
  }

  private async spawn(): Promise<void> {
    this.setState({ kind: 'starting' });
    const runtime = await this.selectRuntime();
    if (this.disposed) throw new Error('the engine client is disposed');
    this.setState({ kind: 'starting' });
    this.log('info', `starting the engine on Node.js ${runtime.version} (${runtime.source} ${runtime.execPath}): ${this.o.enginePath}`);
    const child = fork(this.o.enginePath, [], {
      execPath: runtime.execPath,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: runtimeSpawnEnv(this.o.env ?? process.env),
    });
    this.child = child;
    this.startedAtMs = Date.now();
    child.stdout?.setEncoding('utf8').on('data', (s: string) => this.log('debug', `[engine] ${s.trimEnd()}`));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => this.log('warn', `[engine] ${s.trimEnd()}`));
    return new Promise<void>((resolve, reject) => {
      let up = false;
      child.on('message', (m: EngineEvent) => {
        if (m.type === 'started') {
          up = true;
          this.log('info', `engine up: pid ${m.pid}, node ${m.node}`);
          this.setState({ kind: 'ready', model: undefined });
          resolve();
          return;
        }
        this.onMessage(m);
      });
      child.on('error', (e) => {
        if (!up) reject(e);
        this.log('error', `engine process error: ${e.message}`);
      });
      child.on('exit', (code, signal) => {
        if (this.child !== child) return;
        this.child = undefined;
        this.startPromise = undefined;
        const reason = signal ? `killed by ${signal}` : `exit code ${code}`;
        if (!up) reject(new EngineCrashedError(reason));
        this.onExit(reason);
      });
    });
  }

  private onMessage(m: EngineEvent): void {
    if (m.type === 'log') {
      this.log(m.level, `[engine] ${m.message}`);
      return;
    }
    if (m.type === 'started') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'chunk' || m.type === 'progress' || m.type === 'prefill') {
      p.onEvent?.(m);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'error') p.reject(new EngineError(m.error));
    else p.resolve(m);
  }

  private onExit(reason: string): void {
    for (const p of this.pending.values()) p.reject(new EngineCrashedError(reason));
    this.pending.clear();
    if (this.disposed) {
      this.setState({ kind: 'stopped' });
      return;
    }
    if (Date.now() - this.startedAtMs > (this.o.stableMs ?? 60_000)) this.crashesInRow = 0;
    const delayMs = Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.initialBackoffMs ?? 500) * 2 ** this.crashesInRow);
    this.crashesInRow++;
    this.log('error', `the engine process stopped (${reason}); restarting in ${delayMs} ms`);
    this.setState({ kind: 'crashed', reason, restartInMs: delayMs, restarts: this.restarts });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      void this.revive();
    }, delayMs);
  }

  /** Starts again and reloads the model it had. */
  private async revive(): Promise<void> {
    try {
      await this.start();
      if (this.modelParams) await this.load(this.modelParams);
    } catch (e) {
      this.log('error', `restart failed: ${(e as Error).message}`);
    }
  }

  private request<T extends EngineEvent>(msg: EngineRequest, onEvent?: (e: EngineEvent) => void): Promise<T> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new EngineCrashedError('not running'));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(msg.id, { resolve: resolve as (e: EngineEvent) => void, reject, onEvent });
      child.send(msg);
    });
  }

  /** Loads a model (replacing the one loaded); it is loaded again after a restart. */
  async load(params: LoadParams): Promise<ModelInfo> {
    checkPrefillLimits(params.prefill ?? {});
    this.prefill = { ...this.prefill, ...params.prefill };
    await this.start();
    // Kept without limits: a reload after a restart sends those in force then, as this load sends the
    // latest (a tune called while the engine started is newer than params.prefill).
    this.modelParams = { ...params, prefill: undefined };
    params = { ...params, prefill: this.prefill };
    this.setState({ kind: 'loading', loadedBytes: 0, totalBytes: 0 });
    try {
      const r = await this.request<Extract<EngineEvent, { type: 'loaded' }>>({ type: 'load', id: this.nextId++, params }, (e) => {
        if (e.type === 'progress') this.setState({ kind: 'loading', loadedBytes: e.loadedBytes, totalBytes: e.totalBytes });
      });
      this.model = r.info;
      this.log('info', `model loaded: ${r.info.name} (${r.info.architecture}, template ${r.info.template}: ${r.info.templateReason}) in ${Math.round(r.info.loadMs)} ms on ${r.info.adapter}${r.info.decodeTokensPerS ? `, decoding ~${r.info.decodeTokensPerS.toFixed(1)} tokens/s` : ''}`);
      this.setState({ kind: 'ready', model: r.info });
      return r.info;
    } catch (e) {
      if (e instanceof EngineError) this.setState({ kind: 'error', error: e.wire });
      throw e;
    }
  }

  /**
   * One completion. Aborting `signal` sends a cancel: the engine stops before its next token and answers
   * with stoppedBy 'cancelled'. An engine that does not answer within cancelGraceMs is killed (hung).
   */
  async complete(request: CompletionRequest, options: CompletionOptions, run: { signal?: AbortSignal; onChunk?: (text: string) => void; onPrefill?: (p: PrefillState) => void } = {}): Promise<CompletionResult> {
    await this.start();
    const id = this.nextId++;
    const child = this.child;
    let watchdog: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (!child?.connected) return;
      child.send({ type: 'cancel', id: this.nextId++, target: id } satisfies EngineRequest);
      watchdog = setTimeout(() => {
        this.log('error', `the engine did not answer a cancel within ${this.o.cancelGraceMs ?? 20_000} ms: killing it`);
        child.kill('SIGKILL');
      }, this.o.cancelGraceMs ?? 20_000);
    };
    if (run.signal?.aborted) onAbort();
    else run.signal?.addEventListener('abort', onAbort, { once: true });
    /** The listeners were told of this request's prefill and not yet that it ended. */
    let showingPrefill = false;
    try {
      const r = await this.request<Extract<EngineEvent, { type: 'completed' }>>({ type: 'complete', id, request, options }, (e) => {
        if (e.type === 'chunk') run.onChunk?.(e.text);
        if (e.type === 'prefill') {
          const p = { done: e.done, total: e.total };
          run.onPrefill?.(p);
          if (p.done < p.total || showingPrefill) this.setPrefill(p.done < p.total ? p : undefined);
          showingPrefill = p.done < p.total;
        }
      });
      return r.result;
    } finally {
      if (showingPrefill) this.setPrefill(undefined);
      clearTimeout(watchdog);
      run.signal?.removeEventListener('abort', onAbort);
    }
  }

  async stats(): Promise<EngineStats> {
    const r = await this.request<Extract<EngineEvent, { type: 'stats' }>>({ type: 'stats', id: this.nextId++ });
    return r.stats;
  }

  /**
   * New prefill limits for the loaded models, applied from their next pass (no reload), and kept for the
   * next load and restart. Resolves to the limits in force (undefined: no model loaded yet, or the engine
   * is not running); a bad value rejects with a USAGE error and changes nothing.
   */
  async tune(prefill: PrefillLimits): Promise<Required<PrefillLimits> | undefined> {
    checkPrefillLimits(prefill);
    this.prefill = { ...this.prefill, ...prefill };
    if (!this.child?.connected) return undefined;
    const r = await this.request<Extract<EngineEvent, { type: 'tuned' }>>({ type: 'tune', id: this.nextId++, prefill });
    return r.prefill;
  }

  /** Forgets every document's cached prompt in the engine; a no-op when the engine is not running. */
  async clearCache(): Promise<void> {
    if (!this.child?.connected) return;
    await this.request({ type: 'clearCache', id: this.nextId++ });
  }

  /** Stops the process and starts a fresh one with the same model (the "Restart Engine" command). */
  async restart(): Promise<void> {
    await this.stop();
    this.crashesInRow = 0;
    await this.start();
    if (this.modelParams) await this.load(this.modelParams);
  }

  /** Kills the engine process the way a crash would (tests, and a hung engine). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  private async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.startPromise = undefined;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (child.connected) {
      try {
        child.send({ type: 'dispose', id: this.nextId++ } satisfies EngineRequest);
        child.disconnect();
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    for (const p of this.pending.values()) p.reject(new EngineCrashedError('stopped'));
    this.pending.clear();
    this.setState({ kind: 'stopped' });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.selecting?.abort();
    await this.stop();
    this.listeners.clear();
    this.prefillListeners.clear();
  }
}

/** A prompt prefill in progress: `done` of `total` tokens submitted to the GPU. */
export interface PrefillState {
  done: number;
  total: number;
}
