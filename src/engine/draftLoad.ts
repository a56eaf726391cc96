// Loading a draft model beside its target: the same context and batch limits (a verify pass and the
// draft's catch-up feed share the target's shapes), block size and KV type, and the vocabulary check
// before anything runs, so an incompatible pair fails at load time with a DraftVocabularyError, never as
// garbage output. The draft is a GGUF of the same family, or the target's own weights requantized
// (self-speculation, draftSelf.ts). One KV budget covers both models (draftBudget.ts): plan it with
// planDraftKv before loading the target. When the two models' K/V have the same shape (a self draft
// always), they share one pool: the draft runs on the target's KV buffers and its sequence allocates from
// the same BlockPool as the target's documents (KvBuffers.sharedPool, which ModelDraft and DocumentCache
// take), so the draft's blocks and the target's come out of one free list as each needs them. Otherwise
// each model has a pool of its own, cut from the budget.

import type { Gpu } from '../gpu/device';
import type { GgufFile } from '../loaders/gguf/types';
import { requantizedWeightBytes, type RequantDtype } from '../loaders/quant/requantize';
import { BlockPool } from '../kvcache/blockPool';
import { kvBytesPerToken, kvShapesEqual } from '../kvcache/kvBuffers';
import type { LlamaModel } from '../model/llama';
import { adapterDefaults, heldTokensPerSequence, loadModel, readModelConfig, resolveRuntimeOptions, type LoadOptions } from '../model/load';
import { ModelDraft } from './draft';
import { draftDefaultKvBytes, kvShapeOf, splitKvBudget, type KvBudgetSplit } from './draftBudget';
import { checkSelfDraft, loadRequantizedCopy, parseSelfDraft } from './draftSelf';
import { checkDraftVocabulary } from './draftVocab';

/**
 * Greedy drafting stops at a token the draft gives less than this probability: such a token is likely
 * rejected, and the verify pass is cheaper without it (the CLI's value).
 */
export const DRAFT_MIN_CONFIDENCE = 0.3;

export interface LoadedDraftModel {
  model: LlamaModel;
  file: GgufFile;
  draft: ModelDraft;
  /** Bytes of the draft's weights as loaded (a self draft: its requantized size, not its file's). */
  weightBytes: number;
}

/** Where a draft model comes from: a GGUF path, or the target's own weights requantized ('self:q4_0'). */
export type DraftModelSource = { kind: 'file'; path: string } | { kind: 'self'; dtype: RequantDtype };

/** 'self' | 'self:q4_0' | 'self:q8_0' | a GGUF path. */
export function parseDraftModelSource(spec: string): DraftModelSource {
  const dtype = parseSelfDraft(spec);
  return dtype ? { kind: 'self', dtype } : { kind: 'file', path: spec };
}

export type DraftLoadOptions = Pick<LoadOptions, 'onProgress' | 'kvBudgetBytes'> & {
  /** Run on the target's KV buffers and allocate from one pool with it (planDraftKv's shareKv). */
  shareKv?: boolean;
};

/** The target's runtime options (context, batch, block size, KV type, kernel variants) with the draft's own KV budget, or the target's KV buffers. */
export function draftLoadOptions(target: LlamaModel, o: DraftLoadOptions): LoadOptions {
  return { ...target.options, kvBudgetBytes: o.kvBudgetBytes, onProgress: o.onProgress, sharedKv: o.shareKv ? target.kv : undefined };
}

/** The draft's ModelDraft options: on the target's KV buffers, the buffers' one pool (made here, kept in kv.sharedPool). */
function draftPoolOptions(target: LlamaModel, o: DraftLoadOptions): { pool?: BlockPool } {
  if (!o.shareKv) return {};
  target.kv.sharedPool ??= new BlockPool(target.kv.nBlocks, target.options.blockSize);
  return { pool: target.kv.sharedPool };
}

/** Loads `path` as a draft for `target`; the caller disposes `model`. Throws DraftVocabularyError on a mismatch. */
export async function loadDraftModel(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, path: string, o: DraftLoadOptions = {}): Promise<LoadedDraftModel> {
  const { model, file } = await loadModel(gpu, path, draftLoadOptions(target, o));
  try {
    const mapping = checkDraftVocabulary(targetFile.metadata, target.config.vocabSize, file.metadata, model.config.vocabSize);
    const weightBytes = file.tensors.reduce((sum, t) => sum + t.byteSize, 0);
    return { model, file, weightBytes, draft: new ModelDraft(model, { mapping, minConfidence: DRAFT_MIN_CONFIDENCE, ...draftPoolOptions(target, o) }) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * The target's own weights at `dtype` as its draft (no vocabulary check: the same file). Throws
 * SelfDraftUnhelpfulError when the target is already that small (a Q4_0 target and self:q4_0).
 */
export async function loadSelfDraft(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, targetPath: string, dtype: RequantDtype, o: DraftLoadOptions = {}): Promise<LoadedDraftModel> {
  const { model, file } = await loadRequantizedCopy(gpu, targetFile, targetPath, dtype, draftLoadOptions(target, o));
  return { model, file, weightBytes: requantizedWeightBytes(file, dtype), draft: new ModelDraft(model, { minConfidence: DRAFT_MIN_CONFIDENCE, ...draftPoolOptions(target, o) }) };
}

export function loadDraftFrom(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, targetPath: string, source: DraftModelSource, o: DraftLoadOptions = {}): Promise<LoadedDraftModel> {
  return source.kind === 'self'
    ? loadSelfDraft(gpu, target, targetFile, targetPath, source.dtype, o)
    : loadDraftModel(gpu, target, targetFile, source.path, o);
}

export interface DraftKvPlan {
  /** The target's KV pool (with shareKv, the one pool of both); undefined: its default (no budget given). */
  targetKvBytes?: number;
  /** The draft's own pool; 0 with shareKv. */
  draftKvBytes: number;
  /** The two models' K/V have the same shape: one pool on the target's buffers serves both (load with DraftLoadOptions.shareKv). */
  shareKv: boolean;
  /** How a given budget was split between two pools; undefined without one, or with shareKv. */
  split?: KvBudgetSplit;
}

/**
 * Before loading the target: its KV bytes and the draft's, from the one budget in `target.kvBudgetBytes`
 * (split so both hold the same number of blocks, see draftBudget.ts). Without a budget the target keeps its
 * default and the draft gets as many blocks, or at least what its one sequence holds at its longest (a
 * context, or a sliding window's share). `target` holds the options the target will be loaded with (its
 * header too, when the caller has read it).
 * Refuses an unhelpful self draft here, before anything is uploaded.
 */
export async function planDraftKv(gpu: Gpu, targetPath: string, source: DraftModelSource, target: Pick<LoadOptions, 'kvBudgetBytes' | 'maxContextTokens' | 'blockSize' | 'kvType' | 'opened'>): Promise<DraftKvPlan> {
  const { file, config } = target.opened ?? await readModelConfig(targetPath);
  let draftConfig = config;
  if (source.kind === 'self') checkSelfDraft(file, source.dtype);
  else draftConfig = (await readModelConfig(source.path)).config;
  const runtime = resolveRuntimeOptions(config, target, adapterDefaults(gpu, target.kvType));
  const draftShape = kvShapeOf(draftConfig, runtime.blockSize, runtime.kvType);
  const targetShape = kvShapeOf(config, runtime.blockSize, runtime.kvType);
  // Without a budget: the target's default, and as many blocks again for the draft (at least its one
  // sequence at its longest: its context, or with a sliding window what the window holds).
  const draftMaxTokens = heldTokensPerSequence(draftConfig, runtime, Math.min(runtime.maxContextTokens, draftConfig.contextLength), runtime.blockSize);
  const draftDefault = Math.max(draftDefaultKvBytes(targetShape, draftShape, runtime.kvBudgetBytes), Math.ceil(draftMaxTokens / runtime.blockSize) * runtime.blockSize * kvBytesPerToken(draftShape));
  if (kvShapesEqual(targetShape, draftShape)) {
    // One pool: the whole budget; by default both defaults together.
    return { targetKvBytes: target.kvBudgetBytes ?? runtime.kvBudgetBytes + draftDefault, draftKvBytes: 0, shareKv: true };
  }
  if (target.kvBudgetBytes === undefined) return { draftKvBytes: draftDefault, shareKv: false };
  const split = splitKvBudget(target.kvBudgetBytes, targetShape, draftShape);
  return { targetKvBytes: split.targetBytes, draftKvBytes: split.draftBytes, shareKv: false, split };
}
