// The engine process's side of the protocol: owns the one Gpu, the loaded model and its tokenizer, and
// runs requests one at a time in arrival order. A cancel aborts a running completion between two tokens
// (generate checks its AbortSignal before each forward pass) or drops a queued one.

import { CancelledError, TandemError } from '../../common/errors';
import { completionModel, runCompletion, type CompletionModel } from '../../completion/pipeline';
import { chooseTemplate } from '../../completion/templates';
import type { CompletionResult } from '../../completion/types';
import { gpuBufferCensus } from '../../gpu/buffers';
import { Gpu } from '../../gpu/device';
import type { LlamaModel } from '../../model/llama';
import { checkPrefillLimits, type PrefillLimits } from '../../model/prefillLimits';
import { loadModel, readModelConfig } from '../../model/load';
import { createTokenizer } from '../../tokenizer';
import { loadDraftFrom, parseDraftModelSource, planDraftKv, type LoadedDraftModel } from '../../engine/draftLoad';
import { kvPoolOf } from '../../engine/draftBudget';
import { PREFILL_REPORT_AFTER_MS, PREFILL_REPORT_EVERY_MS, type EngineEvent, type EngineRequest, type EngineStats, type LoadParams, type ModelInfo, type SpeculativeEngineStats, type WireError } from './protocol';

/** Open documents whose prompt K/V the engine keeps (least recently used dropped first; memory pressure
 *  drops idle ones earlier). */
export const DOCUMENTS_CACHED = 16;

/** When a long prefill's progress is reported: from afterMs into its request, then every everyMs. */
export interface PrefillReporting {
  afterMs?: number;
  everyMs?: number;
}

type Job = { run: () => Promise<void>; id: number; cancel?: () => void };

export class EngineServer {
  private gpu: Gpu | undefined;
  private loaded: { cm: CompletionModel; info: ModelInfo; models: LlamaModel[]; dispose: () => void } | undefined;
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private readonly aborts = new Map<number, AbortController>();
  /**
   * The prefill limits asked for last, in arrival order (a load's params, then each tune): a load applies
   * them once its models exist, so a tune that arrives while a load is queued or running is not lost.
   */
  private prefillLimits: PrefillLimits = {};
  private readonly latenciesMs: number[] = [];
  private readonly totals = { requests: 0, cancelled: 0, generated: 0, prompt: 0, prefillMs: 0, decodeMs: 0, decodePasses: 0 };
  private readonly spec = { requests: 0, targetPasses: 0, drafted: 0, accepted: 0, generated: 0, bySource: {} as Record<string, number> };

  /** `reports`: when a prefill's progress is sent (default PREFILL_REPORT_AFTER_MS / _EVERY_MS). */
  constructor(private readonly send: (e: EngineEvent) => void, private readonly reports: PrefillReporting = {}) {}

  handle(m: EngineRequest): void {
    switch (m.type) {
      case 'load':
        if (m.params.prefill && isValidPrefill(m.params.prefill)) this.prefillLimits = { ...this.prefillLimits, ...m.params.prefill };
        this.enqueue({ id: m.id, run: () => this.load(m.id, m.params) });
        break;
      case 'complete': {
        const arrivedMs = performance.now();
        const ac = new AbortController();
        this.aborts.set(m.id, ac);
        this.enqueue({ id: m.id, run: () => this.complete(m.id, m, ac, arrivedMs), cancel: () => ac.abort() });
        break;
      }
      case 'cancel':
        this.aborts.get(m.target)?.abort();
        break;
      case 'clearCache':
        this.enqueue({ id: m.id, run: async () => { this.loaded?.cm.documents.clear(); this.loaded?.cm.draft?.clear(); this.loaded?.cm.recentEdits.clear(); this.send({ type: 'cacheCleared', id: m.id }); } });
        break;
      case 'tune':
        this.tune(m.id, m.prefill);
        break;
      case 'stats':
        // Answered at once, even while a completion runs.
        this.send({ type: 'stats', id: m.id, stats: this.stats(m.gc) });
        break;
      case 'dispose':
        for (const ac of this.aborts.values()) ac.abort();
        this.enqueue({ id: m.id, run: async () => { this.disposeAll(); this.send({ type: 'disposed', id: m.id }); } });
        break;
    }
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    while ((this.running = this.queue.shift())) {
      const job = this.running;
      try {
        await job.run();
      } catch (e) {
        this.send({ type: 'error', id: job.id, error: toWire(e) });
      }
    }
  }

  private async load(id: number, p: LoadParams): Promise<void> {
    const t0 = performance.now();
    if (p.prefill) checkPrefillLimits(p.prefill);
    this.gpu ??= await Gpu.acquire();
    this.loaded?.dispose();
    this.loaded = undefined;
    let lastSentMs = 0;
    // With a draft model, the one KV budget (tandem.memoryBudgetMB) covers both models' pools.
    const draftSource = p.draftModelPath ? parseDraftModelSource(p.draftModelPath) : undefined;
    // The tokenizer first: a file Tandem cannot tokenize for (an unknown pre-tokenizer) is refused before
    // seconds of upload, not after. The header read here serves the draft's plan and the load too.
    const opened = await readModelConfig(p.modelPath);
    const tokenizer = createTokenizer(opened.file.metadata);
    const kvPlan = draftSource && await planDraftKv(this.gpu, p.modelPath, draftSource, { opened, maxContextTokens: p.maxContextTokens, kvBudgetBytes: p.kvBudgetBytes, kvType: p.kvType });
    const { model, file } = await loadModel(this.gpu, p.modelPath, {
      opened,
      maxContextTokens: p.maxContextTokens,
      kvBudgetBytes: kvPlan ? kvPlan.targetKvBytes : p.kvBudgetBytes,
      kvType: p.kvType,
      onProgress: (loadedBytes, totalBytes) => {
        const now = performance.now();
        if (now - lastSentMs < 100 && loadedBytes < totalBytes) return;
        lastSentMs = now;
        this.send({ type: 'progress', id, loadedBytes, totalBytes });
      },
    });
    let draft: LoadedDraftModel | undefined;
    try {
      if (draftSource) draft = await loadDraftFrom(this.gpu, model, file, p.modelPath, draftSource, { kvBudgetBytes: kvPlan?.draftKvBytes, shareKv: kvPlan?.shareKv });
      const cm = completionModel(model, tokenizer, { maxDocuments: DOCUMENTS_CACHED, enabled: p.promptCache }, draft?.draft);
      // Warm-up: the first forward passes compile the pipelines (seconds on a software adapter); do it
      // while the status says "loading", not on the user's first keystroke. With a draft model, a
      // speculative request also compiles the verify-pass (batched head) and the draft's pipelines.
      const warmup = { prefix: 'function main() {\n  return 1;\n}\n', suffix: '', path: 'warmup.js', languageId: 'javascript' };
      await runCompletion(cm, warmup, { maxTokens: 2, multiline: 'always' });
      // Then a few tokens on compiled pipelines: the decode speed the status bar quotes (how slow a
      // software adapter is, in numbers).
      const probe = await runCompletion(cm, warmup, { maxTokens: 8, multiline: 'always', template: 'prefix-only' });
      const probed = probe.timings.generatedTokens - 1;
      const decodeTokensPerS = probed >= 2 && probe.timings.decodeMs > 0 ? (probed * 1000) / probe.timings.decodeMs : undefined;
      if (draft) {
        await runCompletion(cm, warmup, { maxTokens: 3, multiline: 'always', draft: 'model', draftLength: 2 });
        draft.draft.reset();
      }
      const choice = chooseTemplate(tokenizer, cm.name);
      const a = this.gpu.adapter;
      const info: ModelInfo = {
        path: p.modelPath,
        name: cm.name,
        architecture: model.config.architecture,
        template: choice.template.name,
        templateReason: choice.reason,
        contextTokens: model.options.maxContextTokens,
        weightBytes: file.tensors.reduce((s, t) => s + t.byteSize, 0),
        adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' '),
        isSoftwareAdapter: a.isSoftware,
        decodeTokensPerS,
        loadMs: performance.now() - t0,
        draft: draft && { path: p.draftModelPath!, name: draftSource?.kind === 'self' ? `${cm.name} itself at ${draftSource.dtype.toUpperCase()}` : draft.model.config.name, weightBytes: draft.weightBytes, ...(kvPlan?.shareKv ? { kvShared: true } : { kv: kvPoolOf(draft.model) }) },
        kv: kvPoolOf(model),
      };
      const models = draft ? [model, draft.model] : [model];
      // The latest limits asked for, not p.prefill: a tune may have come while this load was queued or ran
      // (with no model loaded, it changed nothing else). No await from here to this.loaded: none can slip between.
      for (const m of models) m.setPrefillLimits(this.prefillLimits);
      this.loaded = { cm, info, models, dispose: () => { cm.documents.dispose(); draft?.draft.reset(); draft?.model.dispose(); model.dispose(); } };
      this.send({ type: 'loaded', id, info });
    } catch (e) {
      draft?.model.dispose();
      model.dispose();
      throw e;
    }
  }

  /** Applies new prefill limits to the loaded models (both or neither: checked first) and answers with those in force. */
  private tune(id: number, limits: PrefillLimits): void {
    try {
      checkPrefillLimits(limits);
      this.prefillLimits = { ...this.prefillLimits, ...limits };
      for (const model of this.loaded?.models ?? []) model.setPrefillLimits(limits);
      this.send({ type: 'tuned', id, prefill: this.loaded?.models[0].prefillLimits });
    } catch (e) {
      this.send({ type: 'error', id, error: toWire(e) });
    }
  }

  private async complete(id: number, m: Extract<EngineRequest, { type: 'complete' }>, ac: AbortController, arrivedMs: number): Promise<void> {
    try {
      const startMs = performance.now();
      let result: CompletionResult;
      if (ac.signal.aborted) {
        result = cancelledResult(startMs - arrivedMs);
      } else {
        if (!this.loaded) throw new NoModelError();
        let reportAtMs = startMs + (this.reports.afterMs ?? PREFILL_REPORT_AFTER_MS);
        let reported = false;
        result = await runCompletion(this.loaded.cm, m.request, m.options, {
          signal: ac.signal,
          onText: (text) => this.send({ type: 'chunk', id, text }),
          onPrefill: (done, total) => {
            const now = performance.now();
            // The end of a prefill that was reported is reported too (the status shows it no longer).
            const end = done >= total;
            if (end ? !reported : now < reportAtMs) return;
            reportAtMs = now + (this.reports.everyMs ?? PREFILL_REPORT_EVERY_MS);
            reported = true;
            this.send({ type: 'prefill', id, done, total });
          },
        });
        result.timings.queueMs = startMs - arrivedMs;
      }
      this.account(result, performance.now() - arrivedMs);
      this.send({ type: 'completed', id, result });
    } finally {
      this.aborts.delete(id);
    }
  }

  private account(r: CompletionResult, latencyMs: number): void {
    const t = this.totals;
    t.requests++;
    if (r.stoppedBy === 'cancelled') t.cancelled++;
    t.generated += r.timings.generatedTokens;
    t.prompt += r.timings.promptTokens;
    t.prefillMs += r.timings.prefillMs;
    t.decodeMs += r.timings.decodeMs;
    t.decodePasses += Math.max(0, r.timings.generatedTokens - 1);
    const sp = r.timings.speculative;
    if (sp) {
      const s = this.spec;
      s.requests++;
      s.targetPasses += sp.targetPasses;
      s.drafted += sp.draftedTokens;
      s.accepted += sp.acceptedTokens;
      s.generated += r.timings.generatedTokens;
      s.bySource[sp.draft] = (s.bySource[sp.draft] ?? 0) + 1;
    }
    if (r.stoppedBy !== 'cancelled') {
      this.latenciesMs.push(latencyMs);
      if (this.latenciesMs.length > 500) this.latenciesMs.shift();
    }
  }

  stats(gc = false): EngineStats {
    const collect = (globalThis as { gc?: () => void }).gc;
    const gcRan = gc && typeof collect === 'function';
    if (gcRan) collect();
    const t = this.totals;
    const sorted = [...this.latenciesMs].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
    const pool = this.loaded?.cm.pool;
    const target = this.loaded?.models[0];
    const dc = this.loaded?.cm.documents.stats();
    return {
      model: this.loaded?.info,
      requests: t.requests,
      cancelled: t.cancelled,
      generatedTokens: t.generated,
      promptTokens: t.prompt,
      decodeTokensPerS: t.decodeMs > 0 ? (t.decodePasses / t.decodeMs) * 1000 : 0,
      prefillTokensPerS: t.prefillMs > 0 ? (t.prompt / t.prefillMs) * 1000 : 0,
      latencyMsP50: pct(0.5),
      latencyMsP95: pct(0.95),
      kvBlocksUsed: pool?.usedBlocks ?? 0,
      kvBlocksTotal: pool?.nBlocks ?? 0,
      prefill: target && { ...target.prefillLimits, passTokens: target.prefillPassTokens },
      promptCache: dc && {
        documents: dc.documents,
        requests: dc.requests,
        reusedTokens: dc.reusedTokens,
        prefilledTokens: dc.prefilledTokens,
        tokenHitRate: dc.tokenHitRate,
        blocksUsed: dc.pool.usedBlocks,
        blocksCached: dc.pool.cachedBlocks,
        blocksFree: dc.pool.freeBlocks,
        blocksTotal: dc.pool.totalBlocks,
        evictions: dc.pool.evictions,
        documentsDropped: dc.documentsDropped,
      },
      speculative: this.speculativeStats(),
      rssBytes: process.memoryUsage().rss,
      heapUsedBytes: process.memoryUsage().heapUsed,
      ...(gc ? { gcRan } : {}),
      gpuBuffers: gpuBufferCensus(),
    };
  }

  private speculativeStats(): SpeculativeEngineStats | undefined {
    const s = this.spec;
    if (s.requests === 0) return undefined;
    return {
      requests: s.requests,
      targetPasses: s.targetPasses,
      draftedTokens: s.drafted,
      acceptedTokens: s.accepted,
      acceptanceRate: s.drafted ? s.accepted / s.drafted : 0,
      tokensPerPass: s.targetPasses ? s.generated / s.targetPasses : 0,
      bySource: { ...s.bySource },
      draftCache: this.draftCacheStats(),
    };
  }

  private draftCacheStats(): SpeculativeEngineStats['draftCache'] {
    const d = this.loaded?.cm.draft?.stats;
    if (!d) return undefined;
    return { reusedTokens: d.reusedTokens, prefilledTokens: d.prefilledTokens, tokenHitRate: d.contextTokens ? d.reusedTokens / d.contextTokens : 0 };
  }

  disposeAll(): void {
    this.loaded?.dispose();
    this.loaded = undefined;
    this.gpu?.dispose();
    this.gpu = undefined;
  }
}

export class NoModelError extends TandemError {
  readonly code = 'USAGE';
  constructor() {
    super('no model is loaded', 'Choose a model: "Tandem: Select Model".');
  }
}

function isValidPrefill(limits: PrefillLimits): boolean {
  try {
    checkPrefillLimits(limits);
    return true;
  } catch {
    return false;
  }
}

function cancelledResult(queueMs: number): CompletionResult {
  return { text: '', rawText: '', stoppedBy: 'cancelled', template: '', timings: { promptTokens: 0, generatedTokens: 0, queueMs, tokenizeMs: 0, prefillMs: 0, decodeMs: 0 } };
}

export function toWire(e: unknown): WireError {
  if (e instanceof TandemError) return { code: e.code, name: e.name, message: e.message, hint: e.hint };
  if (e instanceof CancelledError) return { code: 'CANCELLED', name: 'CancelledError', message: 'cancelled' };
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: 'INTERNAL', name: err.name, message: err.stack ?? err.message };
}
