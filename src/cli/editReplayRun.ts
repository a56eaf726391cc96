// The three modes of the edit-replay benchmark, each replaying the same editing sessions request by
// request and recording what each request cost: (a)/(b) Tandem's DocumentCache with the prefix cache on
// or off, (c) llama.cpp (node-llama-cpp) keeping one sequence per document and reusing its longest common
// prefix with the new prompt (adaptStateToTokens), as llama-server's slot does.

import type { LlamaModel } from '../model/llama';
import type { DraftSource } from '../engine/draft';
import { DraftLengthController } from '../engine/draftLength';
import { NgramDraft } from '../engine/draftNgram';
import { DocumentCache, type CacheStats, type DocumentCompleteOptions } from '../engine/session';
import { openLlamaCppContext } from '../bench/llamacppBaseline';
import { fimPrompt, type EditTrace, type FimTokenIds, type ReplayLayout } from './editReplayTrace';

export interface RequestRecord {
  mode: string;
  file: string;
  /** Index of the request in its session. */
  i: number;
  edit: string;
  keystrokes: number;
  promptTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  ttftMs: number;
  totalMs: number;
  /** Greedy completion tokens. */
  tokens: number[];
  /** With a draft source: what speculative decoding did for this request. */
  speculative?: { targetPasses: number; draftedTokens: number; acceptedTokens: number; draftPasses: number; draftPrefilledTokens: number };
}

/** How prompts are made: the FIM layout and token ids, the tokenizer, and how long completions run. */
export interface ReplayPrompts {
  layout: ReplayLayout;
  encode: (s: string) => number[];
  fim: FimTokenIds;
  bos: number | undefined;
  maxTokens: number;
}

export function promptsOf(t: EditTrace, p: ReplayPrompts): number[][] {
  return t.requests.map((r, i) => fimPrompt(r, t.windows[i], p.layout, p.encode, p.fim, p.bos));
}

/** One request of the replay: request i of trace `trace`. */
export interface ReplayStep { trace: number; i: number }

/**
 * The order requests are replayed in. switchEvery 0: each session whole, one after another. N > 0: the
 * developer switches files every N requests (round robin over the sessions not yet finished), so with
 * one llama.cpp slot for all files (llama-server's) each switch loses the other file's state.
 */
export function replayOrder(traces: EditTrace[], switchEvery = 0): ReplayStep[] {
  if (switchEvery <= 0) return traces.flatMap((t, trace) => t.requests.map((_, i) => ({ trace, i })));
  const next = traces.map(() => 0);
  const out: ReplayStep[] = [];
  for (let left = true; left;) {
    left = false;
    traces.forEach((t, trace) => {
      for (let n = 0; n < switchEvery && next[trace] < t.requests.length; n++) out.push({ trace, i: next[trace]++ });
      left ||= next[trace] < t.requests.length;
    });
  }
  return out;
}

/** A draft for a replay: n-gram (prompt lookup), or a source with the label its records' mode takes. */
export type ReplayDraft = 'ngram' | { label: string; source: DraftSource; draftLength: number | 'auto' };

/** Mode names of the records: (a) `tandem cache L`, (b) `tandem no cache L`, (d) `tandem cache+ngram L`, (e) `tandem cache+<label> L`. */
export function tandemMode(layout: string, enabled: boolean, draft?: string): string {
  return `tandem ${enabled ? 'cache' : 'no cache'}${draft ? `+${draft}` : ''} ${layout}`;
}

/**
 * (a) with `enabled`, (b) without: one DocumentCache for the whole replay, one document per file.
 * (d) `draft: 'ngram'`: (a) with speculative decoding, prompt-lookup drafts from the prompt itself (the
 * document's text around the cursor), automatic draft length learnt over the whole replay.
 * (e) `draft: { label, source }`: the same with a draft model (its state kept between requests, as the
 * engine keeps it).
 */
export async function replayTandem(model: LlamaModel, traces: EditTrace[], p: ReplayPrompts, enabled: boolean, draft?: ReplayDraft, order = replayOrder(traces)): Promise<{ records: RequestRecord[]; stats: CacheStats }> {
  const dc = new DocumentCache(model, { enabled });
  const mode = tandemMode(p.layout, enabled, draft === 'ngram' ? draft : draft?.label);
  // One draft-length controller for the whole replay, as the engine keeps one across requests.
  const speculative: DocumentCompleteOptions['speculative'] = draft
    ? draft === 'ngram'
      ? { draft: new NgramDraft(), draftLength: 'auto', lengths: new DraftLengthController({ draftLength: 'auto' }) }
      : { draft: draft.source, draftLength: draft.draftLength, lengths: new DraftLengthController({ draftLength: draft.draftLength }), keepDraftState: true }
    : undefined;
  const records: RequestRecord[] = [];
  try {
    const prompts = traces.map((t) => promptsOf(t, p));
    for (const { trace, i } of order) {
      const t = traces[trace];
      const r = t.requests[i];
      const prompt = prompts[trace][i];
      const c = await dc.complete(t.file, prompt, { maxTokens: p.maxTokens, speculative });
      const x = c.speculative;
      const sp = x && { targetPasses: x.targetPasses, draftedTokens: x.draftedTokens, acceptedTokens: x.acceptedTokens, draftPasses: x.draftPasses, draftPrefilledTokens: x.draftPrefilledTokens };
      records.push({ mode, file: t.file, i, edit: r.edit, keystrokes: r.keystrokes, promptTokens: prompt.length, reusedTokens: c.reusedTokens, prefilledTokens: c.prefilledTokens, ttftMs: c.ttftMs, totalMs: c.totalMs, tokens: c.tokens, speculative: sp });
    }
    return { records, stats: dc.stats() };
  } finally {
    dc.dispose();
    if (speculative) speculative.draft.reset();
  }
}

/** Mode name of (c): a sequence per document, or (with an interleaved order) one slot for every file. */
export function llamaCppMode(layout: string, oneSlot: boolean): string {
  return oneSlot ? `llama.cpp one slot ${layout}` : `llama.cpp adaptStateToTokens ${layout}`;
}

/**
 * (c): llama.cpp on the CPU with `threads` threads, the same prompts; each session whole on a sequence of
 * its own, or, with `order` (an interleaved replay), one sequence for every file, as llama-server's slot.
 */
export async function replayLlamaCpp(modelPath: string, contextSize: number, traces: EditTrace[], p: ReplayPrompts, threads: number, order?: ReplayStep[]): Promise<{ records: RequestRecord[]; label: string }> {
  type Token = import('node-llama-cpp').Token;
  const lc = await openLlamaCppContext(modelPath, contextSize, false, threads);
  const records: RequestRecord[] = [];
  const mode = llamaCppMode(p.layout, order !== undefined);
  const prompts = traces.map((t) => promptsOf(t, p));
  // Runs of requests on one sequence: a session each, or the whole interleaved replay on one slot.
  const runs = order ? [order] : traces.map((t, trace) => t.requests.map((_, i) => ({ trace, i })));
  try {
    for (const run of runs) {
      const seq = lc.context.getSequence();
      try {
        for (const { trace, i } of run) {
          const t = traces[trace];
          const r = t.requests[i];
          const prompt = prompts[trace][i] as unknown as Token[];
          const t0 = performance.now();
          await seq.adaptStateToTokens(prompt, false);
          // Its evaluate needs at least the last prompt token to produce the first logits.
          if (seq.contextTokens.length >= prompt.length) await seq.adaptStateToTokens(prompt.slice(0, -1), false);
          const kept = seq.contextTokens.length;
          const tokens: number[] = [];
          let ttftMs = 0;
          for await (const tok of seq.evaluate(prompt.slice(kept), { temperature: 0 })) {
            if (tokens.length === 0) ttftMs = performance.now() - t0;
            tokens.push(tok as unknown as number);
            if (tokens.length >= p.maxTokens) break;
          }
          records.push({ mode, file: t.file, i, edit: r.edit, keystrokes: r.keystrokes, promptTokens: prompt.length, reusedTokens: kept, prefilledTokens: prompt.length - kept, ttftMs, totalMs: performance.now() - t0, tokens });
        }
      } finally {
        seq.dispose();
      }
    }
  } finally {
    await lc.dispose();
  }
  return { records, label: lc.label };
}
