// What the editor side knows about one completion request, and what comes back. Plain data: it crosses
// the process boundary to the engine (structured clone) unchanged.

import type { FimOrder } from './templates';

/** A snippet of another open or recently edited file, put before the current file in the prompt. */
export interface ContextFile {
  /** Workspace-relative path, as the model sees it in its multi-file format. */
  path: string;
  text: string;
}

export type MultilineMode = 'auto' | 'always' | 'never';

/**
 * Speculative decoding's draft source: none, prompt lookup (n-grams of the prompt itself), the draft model
 * loaded with the target, or both (picked per step by recent acceptance). The output is the target's
 * either way; only the speed differs.
 */
export type DraftMode = 'off' | 'ngram' | 'model' | 'model+ngram';

export interface CompletionRequest {
  /** The document (its URI): the engine keeps each document's prompt K/V and reuses its prefix on the next
   *  request, so a keystroke prefills a few tokens. Absent: a fresh sequence (no reuse). */
  documentId?: string;
  /** Text of the document before the cursor (already capped in characters by the editor side). */
  prefix: string;
  /** Text after the cursor. */
  suffix: string;
  /** Document line number of the first line of `prefix` (the window anchors on absolute line numbers). */
  prefixLineOffset?: number;
  /** Workspace-relative path of the current file ('' when untitled). */
  path: string;
  languageId: string;
  /** Other files, most stable (least recently edited) first: they lead the prompt so the KV cache keeps them. */
  contextFiles?: ContextFile[];
}

export interface CompletionOptions {
  maxTokens: number;
  /** Wall-clock limit on generation; the text so far is kept when it runs out. */
  timeBudgetMs?: number;
  temperature?: number;
  /** A template name, or 'auto' (from the GGUF's FIM tokens and name). */
  template?: string;
  /** FIM order: 'auto' (the family's: SPM where it was trained on it), 'psm' or 'spm' (where the family was trained on it). */
  fimOrder?: FimOrder;
  /**
   * In PSM order, the text typed since the middle's anchor goes after the middle token (completion/middle.ts),
   * so a keystroke prefills a few tokens instead of the whole suffix. Default true; families without it
   * (SPM, Code Llama's PSM) ignore it.
   */
  typedMiddle?: boolean;
  multiline?: MultilineMode;
  /** Token budgets of the prompt's parts. */
  prefixTokens?: number;
  suffixTokens?: number;
  contextFileTokens?: number;
  /**
   * Confidence trimming: the suggestion ends where the model's probability of a token (softmax at
   * temperature 1) first falls below this; 0 = off.
   */
  minTokenProbability?: number;
  /** Speculative decoding (default 'off'); 'model' without a loaded draft model decodes plainly. */
  draft?: DraftMode;
  /** Tokens drafted per target pass: 1..16, or 'auto' (from measured acceptance and costs). Default 'auto'. */
  draftLength?: number | 'auto';
}

/** One request's speculative decoding: what the target verified and kept. */
export interface SpeculativeTimings {
  /** The source that ran (after falling back when no draft model is loaded). */
  draft: Exclude<DraftMode, 'off'>;
  /** Target forward passes after the prompt (each verifies a draft). */
  targetPasses: number;
  /** Draft model forward passes (0 for n-grams). */
  draftPasses: number;
  /** Committed tokens the draft model ran before drafting (what its per-document cache lacked). */
  draftPrefilledTokens: number;
  draftedTokens: number;
  acceptedTokens: number;
  draftMs: number;
  verifyMs: number;
}

export interface CompletionTimings {
  promptTokens: number;
  generatedTokens: number;
  /** From the request's arrival in the engine to its start (waiting behind another request). */
  queueMs: number;
  tokenizeMs: number;
  /** Prompt tokens whose K/V the engine's prompt cache already held (not prefilled); absent without a documentId. */
  reusedTokens?: number;
  prefillMs: number;
  decodeMs: number;
  /** Present when the request decoded speculatively. */
  speculative?: SpeculativeTimings;
}

/** The generated tokens, before any cut (a low-confidence token is the last one). */
export interface GeneratedTokens {
  ids: number[];
  /** The model's probability of each token (softmax of its logits at temperature 1). */
  probabilities: number[];
  /** Offset in rawText where each token's text starts. */
  offsets: number[];
}

export interface CompletionResult {
  /** The text to insert at the cursor, post-processed; '' when nothing is worth showing. */
  text: string;
  /** The text as the model produced it, before post-processing (for logs and captured tests). */
  rawText: string;
  stoppedBy: 'maxTokens' | 'stopToken' | 'stopRule' | 'timeBudget' | 'lowConfidence' | 'cancelled';
  template: string;
  timings: CompletionTimings;
  /** stoppedBy 'lowConfidence': rawText ends at `at`, where token `tokenIndex` of probability `probability` began. */
  lowConfidence?: { at: number; tokenIndex: number; probability: number };
  tokens?: GeneratedTokens;
}
