// The three modes of the edit-replay benchmark, each replaying the same editing sessions request by
// request and recording what each request cost: (a)/(b) Tandem's DocumentCache with the prefix cache on
// or off, (c) llama.cpp (node-llama-cpp) keeping one sequence per document and reusing its longest common
// prefix with the new prompt (adaptStateToTokens), as llama-server's slot does.

import type { LlamaModel } from '../model/llama';
import { DraftLengthController } from '../engine/draftLength';
import { NgramDraft } from '../engine/draftNgram';
import { DocumentCache, type CacheStats, type DocumentCompleteOptions } from '../engine/session';
import { openLlamaCppContext } from '../bench/llamacppBaseline';
import { fimPrompt, type EditTrace, type FimTokenIds } from './editReplayTrace';

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
  speculative?: { targetPasses: number; draftedTokens: number; acceptedTokens: number };
}

/** How prompts are made: the FIM layout and token ids, the tokenizer, and how long completions run. */
export interface ReplayPrompts {
  layout: 'spm' | 'psm';
  encode: (s: string) => number[];
  fim: FimTokenIds;
  bos: number | undefined;
  maxTokens: number;
}

export function promptsOf(t: EditTrace, p: ReplayPrompts): number[][] {
  return t.requests.map((r, i) => fimPrompt(r, t.windows[i], p.layout, p.encode, p.fim, p.bos));
}

/** Mode names of the records: (a) `tandem cache L`, (b) `tandem no cache L`, (d) `tandem cache+ngram L`. */
export function tandemMode(layout: string, enabled: boolean, draft?: 'ngram'): string {
  return `tandem ${enabled ? 'cache' : 'no cache'}${draft ? `+${draft}` : ''} ${layout}`;
}

/**
 * (a) with `enabled`, (b) without: one DocumentCache for the whole replay, one document per file.
 * (d) `draft: 'ngram'`: (a) with speculative decoding, prompt-lookup drafts from the prompt itself (the
 * document's text around the cursor), automatic draft length learnt over the whole replay.
 */
export async function replayTandem(model: LlamaModel, traces: EditTrace[], p: ReplayPrompts, enabled: boolean, draft?: 'ngram'): Promise<{ records: RequestRecord[]; stats: CacheStats }> {
  const dc = new DocumentCache(model, { enabled });
  const mode = tandemMode(p.layout, enabled, draft);
  // One draft-length controller for the whole replay, as the engine keeps one across requests.
  const speculative: DocumentCompleteOptions['speculative'] = draft ? { draft: new NgramDraft(), draftLength: 'auto', lengths: new DraftLengthController({ draftLength: 'auto' }) } : undefined;
  const records: RequestRecord[] = [];
  try {
    for (const t of traces) {
      const prompts = promptsOf(t, p);
      for (let i = 0; i < prompts.length; i++) {
        const r = t.requests[i];
        const c = await dc.complete(t.file, prompts[i], { maxTokens: p.maxTokens, speculative });
        const sp = c.speculative && { targetPasses: c.speculative.targetPasses, draftedTokens: c.speculative.draftedTokens, acceptedTokens: c.speculative.acceptedTokens };
        records.push({ mode, file: t.file, i, edit: r.edit, keystrokes: r.keystrokes, promptTokens: prompts[i].length, reusedTokens: c.reusedTokens, prefilledTokens: c.prefilledTokens, ttftMs: c.ttftMs, totalMs: c.totalMs, tokens: c.tokens, speculative: sp });
      }
    }
    return { records, stats: dc.stats() };
  } finally {
    dc.dispose();
  }
}

/** (c): llama.cpp on the CPU with `threads` threads, the same prompts, one sequence per document. */
export async function replayLlamaCpp(modelPath: string, contextSize: number, traces: EditTrace[], p: ReplayPrompts, threads: number): Promise<{ records: RequestRecord[]; label: string }> {
  type Token = import('node-llama-cpp').Token;
  const lc = await openLlamaCppContext(modelPath, contextSize, false, threads);
  const records: RequestRecord[] = [];
  const mode = `llama.cpp adaptStateToTokens ${p.layout}`;
  try {
    for (const t of traces) {
      const seq = lc.context.getSequence();
      try {
        const prompts = promptsOf(t, p);
        for (let i = 0; i < prompts.length; i++) {
          const r = t.requests[i];
          const prompt = prompts[i] as unknown as Token[];
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
