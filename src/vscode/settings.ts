// `tandem.*` settings, read into one typed object. Everything reads the current object on each use, and
// extension.ts reacts to a change (new options for the service, reload or restart of the engine), so no
// setting needs a window reload.

import * as vscode from 'vscode';
import type { ServiceSettings } from '../completion/service';
import type { DraftMode, MultilineMode } from '../completion/types';
import type { RemoteApi } from '../remote/protocols';
import { FIM_ORDERS, type FimOrder } from '../completion/templates';
import { DEFAULT_PREFILL_PASS_BUDGET_MS, DEFAULT_PREFILL_PASSES_IN_FLIGHT, type PrefillLimits } from '../model/prefillLimits';

export interface TandemSettings {
  enable: boolean;
  languages: Record<string, boolean>;
  model: string;
  modelsFolder: string;
  maxContextTokens: number;
  memoryBudgetMB: number;
  /** KV cache element type; auto: f16 where the adapter has shader-f16. */
  kvCacheType: 'auto' | 'f16' | 'f32';
  /** Requests carry the document's id, so the engine reuses its prompt K/V across edits; off: full prefills. */
  promptCache: boolean;
  nodePath: string;
  nodeDownload: boolean;
  nodeDownloadUrl: string;
  /** Hub for "Download a Recommended Model" (Hugging Face layout); empty: $HF_ENDPOINT, else huggingface.co. */
  modelDownloadUrl: string;
  maxTokens: number;
  timeBudgetMs: number;
  temperature: number;
  fimTemplate: string;
  fimOrder: FimOrder;
  fimTypedMiddle: boolean;
  multiline: MultilineMode;
  debounceMs: number;
  adaptiveDebounce: boolean;
  prefixTokens: number;
  /** Unset (undefined): the template order's default (prompt.ts defaultSuffixTokens). */
  suffixTokens: number | undefined;
  otherFilesTokens: number;
  otherFiles: number;
  backend: 'local' | 'remote';
  remoteUrl: string;
  remoteApi: RemoteApi;
  remoteModel: string;
  remoteFallbackToLocal: boolean;
  remoteTimeoutMs: number;
  /** Suggestions end before the first token the model gives less than this probability (0 = off). */
  confidenceThreshold: number;
  /** Speculative decoding's draft source; the output is the same text either way. */
  draft: DraftMode;
  /** A draft GGUF loaded with the model ('' = none), or 'self' | 'self:q4_0' | 'self:q8_0' (the model's own
   *  weights requantized); needed by draft 'model' and 'model+ngram'. */
  draftModel: string;
  /** Tokens drafted per target pass, or 'auto'. */
  draftLength: number | 'auto';
  /** Bounds on prefill passes, applied to the loaded models without a reload (see prefillLimits). */
  prefillPassBudgetMs: number;
  prefillPassesInFlight: number;
}

/** 'auto' or an integer 1..16 (the setting is a string enum: a drop-down in the Settings UI); else 'auto'. */
export function parseDraftLength(v: unknown): number | 'auto' {
  const k = Number(v);
  return Number.isInteger(k) && k >= 1 && k <= 16 ? k : 'auto';
}

export function readSettings(): TandemSettings {
  const c = vscode.workspace.getConfiguration('tandem');
  return {
    enable: c.get('enable', true),
    languages: c.get('languages', { '*': true }),
    model: c.get('model', ''),
    modelsFolder: c.get('modelsFolder', ''),
    maxContextTokens: c.get('maxContextTokens', 4096),
    memoryBudgetMB: c.get('memoryBudgetMB', 0),
    kvCacheType: c.get('kvCacheType', 'auto'),
    promptCache: c.get('promptCache', true),
    nodePath: c.get('nodePath', ''),
    nodeDownload: c.get('nodeDownload', true),
    nodeDownloadUrl: c.get('nodeDownloadUrl', ''),
    modelDownloadUrl: c.get('modelDownloadUrl', ''),
    maxTokens: c.get('maxTokens', 64),
    timeBudgetMs: c.get('timeBudgetMs', 5000),
    temperature: c.get('temperature', 0),
    fimTemplate: c.get('fimTemplate', 'auto'),
    fimOrder: parseFimOrder(c.get('fimOrder', 'auto')),
    fimTypedMiddle: c.get('fimTypedMiddle', true),
    multiline: c.get('multiline', 'auto'),
    debounceMs: c.get('debounceMs', 150),
    adaptiveDebounce: c.get('adaptiveDebounce', true),
    prefixTokens: c.get('context.prefixTokens', 1024),
    suffixTokens: explicitValue<number>(c, 'context.suffixTokens'),
    otherFilesTokens: c.get('context.otherFilesTokens', 512),
    otherFiles: c.get('context.otherFiles', 3),
    backend: c.get('backend', 'local'),
    remoteUrl: c.get('remote.url', 'http://127.0.0.1:8080'),
    remoteApi: c.get('remote.api', 'openai'),
    remoteModel: c.get('remote.model', ''),
    remoteFallbackToLocal: c.get('remote.fallbackToLocal', false),
    remoteTimeoutMs: c.get('remote.timeoutMs', 10_000),
    confidenceThreshold: Math.min(1, Math.max(0, c.get('confidenceThreshold', 0))),
    draft: c.get('draft', 'off'),
    draftModel: c.get('draftModel', ''),
    draftLength: parseDraftLength(c.get('draftLength', 'auto')),
    prefillPassBudgetMs: integerIn(c.get('prefill.passBudgetMs'), 0, 10_000, DEFAULT_PREFILL_PASS_BUDGET_MS),
    prefillPassesInFlight: integerIn(c.get('prefill.passesInFlight'), 1, 8, DEFAULT_PREFILL_PASSES_IN_FLIGHT),
  };
}

/** A whole number in [min, max] (a hand-edited settings.json may hold anything); else `fallback`. */
export function integerIn(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fallback;
}

/** A setting's value where the user set one (any scope), else undefined: the engine picks a default. */
function explicitValue<T>(c: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const i = c.inspect<T>(key);
  return i?.workspaceFolderLanguageValue ?? i?.workspaceLanguageValue ?? i?.globalLanguageValue ?? i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
}

/** An unknown value (a hand-edited settings.json) is the family's default. */
function parseFimOrder(v: unknown): FimOrder {
  return (FIM_ORDERS as readonly unknown[]).includes(v) ? (v as FimOrder) : 'auto';
}

export function enabledFor(s: TandemSettings, languageId: string): boolean {
  return s.enable && (s.languages[languageId] ?? s.languages['*'] ?? true);
}

export function serviceSettings(s: TandemSettings): ServiceSettings {
  return {
    debounceMs: s.debounceMs,
    adaptiveDebounce: s.adaptiveDebounce,
    options: {
      maxTokens: s.maxTokens,
      timeBudgetMs: s.timeBudgetMs,
      temperature: s.temperature,
      template: s.fimTemplate,
      fimOrder: s.fimOrder,
      typedMiddle: s.fimTypedMiddle,
      multiline: s.multiline,
      prefixTokens: s.prefixTokens,
      suffixTokens: s.suffixTokens,
      contextFileTokens: s.otherFilesTokens,
      minTokenProbability: s.confidenceThreshold,
      draft: s.draft,
      draftLength: s.draftLength,
    },
  };
}

/** Settings that make a new remote backend (the API key, from SecretStorage, is added by src/vscode/remote.ts). */
export function remoteKey(s: TandemSettings): string {
  return JSON.stringify([s.backend, s.remoteUrl, s.remoteApi, s.remoteModel, s.remoteFallbackToLocal, s.remoteTimeoutMs, s.maxContextTokens]);
}

/** The local model is needed: it is the backend, or the remote backend's fallback. */
export function wantsLocalModel(s: TandemSettings): boolean {
  return s.backend !== 'remote' || s.remoteFallbackToLocal;
}

/** Settings whose change needs the engine started again on a newly chosen runtime. */
export function runtimeKey(s: TandemSettings): string {
  return JSON.stringify([s.nodePath, s.nodeDownload, s.nodeDownloadUrl]);
}

/** The engine's prefill limits from the settings (sent with a load, and on their own when they change). */
export function prefillLimits(s: TandemSettings): Required<PrefillLimits> {
  return { passBudgetMs: s.prefillPassBudgetMs, passesInFlight: s.prefillPassesInFlight };
}

/** Settings whose change needs the model loaded again (engine-side state). */
export function loadKey(s: TandemSettings): string {
  return JSON.stringify([s.model, s.maxContextTokens, s.memoryBudgetMB, draftModelToLoad(s), s.kvCacheType]);
}

/** The draft GGUF the engine loads with the model: only when the draft mode uses one (no GPU memory otherwise). */
export function draftModelToLoad(s: TandemSettings): string | undefined {
  return (s.draft === 'model' || s.draft === 'model+ngram') && s.draftModel ? s.draftModel : undefined;
}

/** Turns Tandem on or off for one language (global settings), keeping the other entries. */
export async function setLanguageEnabled(languageId: string, on: boolean): Promise<void> {
  const c = vscode.workspace.getConfiguration('tandem');
  const languages = { ...c.get<Record<string, boolean>>('languages', { '*': true }), [languageId]: on };
  await c.update('languages', languages, vscode.ConfigurationTarget.Global);
}
