// The remote backend: one completion from an inference server the user or the team runs (vLLM, SGLang,
// llama-server, Ollama), streamed, under the same stop rule, time budget and post-processing as the local
// engine (completion/pipeline.ts). Cancelling (the editor's AbortSignal), a stop rule firing or the time
// budget running out destroys the HTTP connection, which is what makes the server stop generating.
// Failures before the first token are retried with backoff when they may pass (refused connection,
// 429, 502-504); every failure is a typed RemoteError and moves the status the status bar shows.

import type { CompletionBackend } from '../completion/backend';
import { fitBudgets } from '../completion/pipeline';
import { PREFIX_WINDOW_GROWTH, PrefixStarts } from '../completion/window';
import { postprocess } from '../completion/postprocess';
import { DEFAULT_BUDGETS, defaultSuffixTokens } from '../completion/prompt';
import { getTemplate, withOrder } from '../completion/templates';
import { createStopRule, wantsMultiline } from '../completion/stopRules';
import type { CompletionOptions, CompletionRequest, CompletionResult } from '../completion/types';
import { RemoteError } from './errors';
import { createAgents, isLoopback, postStreaming } from './http';
import { remoteTemplate } from './prompt';
import { buildWireRequest, decodeStream, endpoint, type RemoteApi, type Usage } from './protocols';

export interface RemoteBackendOptions {
  /** Base URL of the server: http(s)://host:port, with or without a trailing /v1. */
  url: string;
  api: RemoteApi;
  /** The model name the server knows ('' for servers that serve one model, like llama-server). */
  model: string;
  apiKey?: string;
  /** A template name or 'auto' (from the model name) for raw prompts. */
  template?: string;
  /** Longest silence from the server (before the first token, or between two) before giving up. */
  timeoutMs?: number;
  /** Tries after the first, for failures that may pass. */
  retries?: number;
  retryBaseMs?: number;
  /** Context length the server runs with (the prompt is fitted to it); default 8192. */
  contextTokens?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  now?: () => number;
}

export type RemoteStatus =
  | { kind: 'idle'; url: string }
  | { kind: 'ok'; url: string; latencyMs: number }
  /** The time budget ran out before the first token. */
  | { kind: 'slow'; url: string; waitedMs: number }
  | { kind: 'error'; url: string; error: RemoteError };

export interface RemoteStats {
  requests: number;
  ok: number;
  cancelled: number;
  errors: number;
  retries: number;
  /** First-token latency of finished requests, ms. */
  firstTokenMsP50: number;
  firstTokenMsP95: number;
  /** Prompt tokens of the answered requests whose server reported its prefix cache, and how many of them it held (not prefilled). */
  cacheReportedPromptTokens: number;
  reusedTokens: number;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<boolean>((resolve) => {
  if (signal?.aborted) return resolve(false);
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(true); }, ms);
  const onAbort = () => { clearTimeout(t); resolve(false); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

export class RemoteBackend implements CompletionBackend {
  readonly kind = 'remote';
  private readonly agents = createAgents();
  private readonly listeners = new Set<(s: RemoteStatus) => void>();
  private statusValue: RemoteStatus;
  private readonly firstTokenMs: number[] = [];
  private readonly counts = { requests: 0, ok: 0, cancelled: 0, errors: 0, retries: 0, cacheReportedPromptTokens: 0, reusedTokens: 0 };
  private readonly now: () => number;
  private readonly prefixStarts = new PrefixStarts();

  constructor(readonly o: RemoteBackendOptions) {
    this.now = o.now ?? (() => performance.now());
    this.statusValue = { kind: 'idle', url: o.url };
    const url = new URL(o.url); // throws on a malformed URL: the caller reports it before any request
    if (o.apiKey && url.protocol !== 'https:' && !isLoopback(url)) {
      throw new RemoteError('REMOTE_CONFIG', `refusing to send the API key over plain HTTP to ${url.host}`,
        'Use an https:// URL for tandem.remote.url (or remove the key for a server that needs none).');
    }
  }

  get status(): RemoteStatus {
    return this.statusValue;
  }

  onStatus(listener: (s: RemoteStatus) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private setStatus(s: RemoteStatus): void {
    this.statusValue = s;
    for (const l of this.listeners) l(s);
  }

  /** Open sockets to the server (in use + idle keep-alive), for tests and statistics. */
  get openSockets(): number {
    let n = 0;
    for (const a of [this.agents.http, this.agents.https]) {
      for (const list of Object.values(a.sockets)) n += list?.length ?? 0;
      for (const list of Object.values(a.freeSockets)) n += list?.length ?? 0;
    }
    return n;
  }

  async complete(req: CompletionRequest, o: CompletionOptions, run: { signal?: AbortSignal; onChunk?: (text: string) => void } = {}): Promise<CompletionResult> {
    this.counts.requests++;
    const retries = this.o.retries ?? 2;
    const t0 = this.now();
    // Text already streamed to the caller cannot be taken back: after it, a failure is final.
    let streamed = false;
    const onChunk = (text: string) => { streamed = true; run.onChunk?.(text); };
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.once(req, o, { signal: run.signal, onChunk }, t0);
        if (r.stoppedBy === 'cancelled') this.counts.cancelled++;
        else this.counts.ok++;
        if (r.timings.reusedTokens !== undefined) {
          this.counts.cacheReportedPromptTokens += r.timings.promptTokens;
          this.counts.reusedTokens += r.timings.reusedTokens;
        }
        return r;
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e;
        const budgetLeftMs = o.timeBudgetMs ? t0 + o.timeBudgetMs - this.now() : Infinity;
        const waitMs = e.retryAfterMs ?? (this.o.retryBaseMs ?? 200) * 2 ** attempt;
        if (e.retryable && !streamed && attempt < retries && waitMs < budgetLeftMs && !run.signal?.aborted) {
          this.counts.retries++;
          // Shown now, not after the last try: while the user types, each request may be cancelled during
          // its wait, and the status would go on saying "ready" about a server that is down.
          this.setStatus({ kind: 'error', url: this.o.url, error: e });
          this.o.log?.('warn', `${e.message}; retry ${attempt + 1}/${retries} in ${Math.round(waitMs)} ms`);
          if (await sleep(waitMs, run.signal)) continue;
          this.counts.cancelled++;
          return emptyResult('cancelled', '', 0);
        }
        this.counts.errors++;
        this.o.log?.('error', `${e.code}: ${e.message}`);
        this.setStatus({ kind: 'error', url: this.o.url, error: e });
        throw e;
      }
    }
  }

  private async once(req: CompletionRequest, o: CompletionOptions, run: { signal?: AbortSignal; onChunk?: (text: string) => void }, t0: number): Promise<CompletionResult> {
    const template = remoteTemplate(o.template, this.o.model);
    // /infill lays out the prompt on the server, without a typed middle (protocols.ts).
    const typedMiddle = (o.typedMiddle ?? true) && this.o.api !== 'llama-server-infill';
    const maxTokens = Math.max(1, o.maxTokens);
    const budgets = fitBudgets({
      prefixTokens: o.prefixTokens ?? DEFAULT_BUDGETS.prefixTokens,
      suffixTokens: o.suffixTokens ?? defaultSuffixTokens(withOrder(getTemplate(template), o.fimOrder).template, typedMiddle),
      contextFileTokens: o.contextFileTokens ?? DEFAULT_BUDGETS.contextFileTokens,
    }, this.o.contextTokens ?? 8192, maxTokens, PREFIX_WINDOW_GROWTH);
    // The document's prefix window keeps its start while it grows, as the local engine's does: the
    // server's prefix cache (llama-server's slot, vLLM's and SGLang's prefix caching) keeps matching.
    const keep = this.prefixStarts.keepFor(req.documentId, budgets.prefixTokens);
    const wire = buildWireRequest(this.o.api, { req, model: this.o.model, template, budgets, maxTokens, temperature: o.temperature ?? 0, keep, fimOrder: o.fimOrder, typedMiddle });
    this.prefixStarts.remember(req.documentId, wire.prefixStartLine, wire.prefix, wire.middle.length);
    const url = endpoint(this.o.url, wire.path);
    const rule = createStopRule(wire.prefix, { multiline: wantsMultiline(req.prefix, req.suffix, o.multiline) });

    // One controller ends the request for every reason: the editor's cancel, the time budget, a stop rule.
    const ac = new AbortController();
    let why: 'cancelled' | 'timeBudget' | undefined;
    const onCancel = () => { why ??= 'cancelled'; ac.abort(); };
    if (run.signal?.aborted) return emptyResult('cancelled', wire.template, 0);
    run.signal?.addEventListener('abort', onCancel, { once: true });
    const budgetMs = o.timeBudgetMs ? Math.max(1, t0 + o.timeBudgetMs - this.now()) : undefined;
    const budgetTimer = budgetMs ? setTimeout(() => { why ??= 'timeBudget'; ac.abort(); }, budgetMs) : undefined;

    const sent = this.now();
    let raw = '';
    let cutAt = -1;
    let stoppedBy: CompletionResult['stoppedBy'] = 'maxTokens';
    let firstAt: number | undefined;
    let usage: Usage | undefined;
    let pieces = 0;
    let close: (() => void) | undefined;
    try {
      const headers: Record<string, string> = this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {};
      const res = await postStreaming({ url, json: wire.json, headers, signal: ac.signal, idleTimeoutMs: this.o.timeoutMs ?? 10_000, agent: url.protocol === 'https:' ? this.agents.https : this.agents.http });
      close = res.close;
      for await (const piece of decodeStream(this.o.api, res.body, url.href, (line) => this.o.log?.('warn', `malformed event from ${url.origin} skipped: ${line}`))) {
        if (piece.usage) usage = piece.usage;
        if (piece.text) {
          firstAt ??= this.now();
          pieces++;
          raw += piece.text;
          run.onChunk?.(piece.text);
          cutAt = rule(raw, false);
          if (cutAt >= 0) { stoppedBy = 'stopRule'; break; }
        }
        if (piece.finish) stoppedBy = piece.finish === 'length' ? 'maxTokens' : 'stopToken';
      }
    } catch (e) {
      if (!why) throw e;
    } finally {
      clearTimeout(budgetTimer);
      run.signal?.removeEventListener('abort', onCancel);
      // Leaving the loop early (stop rule) must end the request too: the server stops on the closed socket.
      if (stoppedBy === 'stopRule' || why) close?.();
    }
    const endedAt = this.now();
    if (why === 'cancelled') return emptyResult('cancelled', wire.template, endedAt - sent, raw);
    if (why === 'timeBudget') {
      stoppedBy = 'timeBudget';
      if (firstAt === undefined) this.setStatus({ kind: 'slow', url: this.o.url, waitedMs: endedAt - t0 });
    }
    if (firstAt !== undefined) {
      this.firstTokenMs.push(firstAt - sent);
      if (this.firstTokenMs.length > 500) this.firstTokenMs.shift();
      this.setStatus({ kind: 'ok', url: this.o.url, latencyMs: firstAt - sent });
    } else if (why !== 'timeBudget') {
      this.setStatus({ kind: 'ok', url: this.o.url, latencyMs: endedAt - sent });
    }
    if (cutAt < 0) cutAt = rule(raw, true);
    const kept = cutAt >= 0 ? raw.slice(0, cutAt) : raw;
    return {
      text: postprocess(kept, { prefix: wire.prefix, suffix: req.suffix }),
      rawText: raw,
      stoppedBy,
      template: wire.template,
      timings: {
        promptTokens: usage?.promptTokens ?? 0,
        // The server's prefix cache, where it reports one.
        ...(usage?.reusedTokens !== undefined ? { reusedTokens: usage.reusedTokens } : {}),
        generatedTokens: usage?.generatedTokens ?? pieces,
        queueMs: 0,
        tokenizeMs: 0,
        // Remote: time to the first token stands for prefill, the rest for decode.
        prefillMs: (firstAt ?? endedAt) - sent,
        decodeMs: firstAt !== undefined ? endedAt - firstAt : 0,
      },
    };
  }

  stats(): RemoteStats {
    const sorted = [...this.firstTokenMs].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
    return { ...this.counts, firstTokenMsP50: pct(0.5), firstTokenMsP95: pct(0.95) };
  }

  /** Closes the idle keep-alive connections (in-flight requests are ended by their signals). */
  dispose(): void {
    this.agents.destroy();
    this.listeners.clear();
  }
}

function emptyResult(stoppedBy: CompletionResult['stoppedBy'], template: string, ms: number, raw = ''): CompletionResult {
  return { text: '', rawText: raw, stoppedBy, template, timings: { promptTokens: 0, generatedTokens: 0, queueMs: 0, tokenizeMs: 0, prefillMs: ms, decodeMs: 0 } };
}
