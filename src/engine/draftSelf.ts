// Self-speculation: with no draft model at hand, the target's own weights, requantized at load to Q4_0 or
// Q8_0 (src/loaders/quant/requantize.ts), draft for it. Same architecture, same tokenizer (the vocabulary
// is identical by construction: same file), fewer bytes per decode step; greedy output is unchanged, as
// with any draft, because the target verifies every token.

import { TandemError, UsageError } from '../common/errors';
import type { Gpu } from '../gpu/device';
import type { GgufFile } from '../loaders/gguf/types';
import { isMatrix, requantizedWeightBytes, type RequantDtype } from '../loaders/quant/requantize';
import type { LlamaModel } from '../model/llama';
import { loadModel, type LoadOptions } from '../model/load';

/** A self draft must read at most this fraction of the target's matrix bytes per step to be worth a pass. */
export const SELF_DRAFT_MAX_BYTES_RATIO = 0.75;

/** 'self' (= self:q4_0), 'self:q4_0' or 'self:q8_0' -> the type; anything else: undefined (a path). */
export function parseSelfDraft(spec: string): RequantDtype | undefined {
  if (spec === 'self') return 'q4_0';
  if (!spec.startsWith('self:')) return undefined;
  const dtype = spec.slice('self:'.length).toLowerCase();
  if (dtype === 'q4_0' || dtype === 'q8_0') return dtype;
  throw new UsageError(`draft "${spec}": a self draft is self:q4_0 or self:q8_0`);
}

/** The target's weights are already about as small as the self draft would be: it would cost what the target costs. */
export class SelfDraftUnhelpfulError extends TandemError {
  readonly code = 'USAGE';
  constructor(readonly dtype: RequantDtype, readonly ratio: number, path: string) {
    super(`no self draft: ${path} is already ${describeRatio(ratio, dtype)}, so a ${dtype.toUpperCase()} copy of it would be no faster a draft`,
      dtype === 'q8_0' ? 'Use self:q4_0, a smaller draft model, or the n-gram draft.' : 'Use a smaller draft model of the same family, or the n-gram draft.');
  }
}

function describeRatio(ratio: number, dtype: RequantDtype): string {
  return ratio >= 0.999 ? `${dtype.toUpperCase()}-sized or smaller` : `near ${dtype.toUpperCase()} (a copy would keep ${Math.round(ratio * 100)}% of its matrix bytes)`;
}

/** Matrix bytes of the requantized copy over the target's own: what a draft step reads over what a target step reads. */
export function selfDraftBytesRatio(file: GgufFile, dtype: RequantDtype): number {
  const matrices = { ...file, tensors: file.tensors.filter(isMatrix) };
  const own = matrices.tensors.reduce((s, t) => s + t.byteSize, 0);
  return requantizedWeightBytes(matrices, dtype) / own;
}

/** Throws SelfDraftUnhelpfulError when the requantized copy would not be clearly smaller than the target. */
export function checkSelfDraft(file: GgufFile, dtype: RequantDtype): void {
  const ratio = selfDraftBytesRatio(file, dtype);
  if (ratio > SELF_DRAFT_MAX_BYTES_RATIO) throw new SelfDraftUnhelpfulError(dtype, ratio, file.path);
}

/**
 * Loads the target's GGUF again with `options` (draftLoad.ts: the target's runtime options, the draft's KV
 * budget), every matrix requantized to `dtype`; the caller disposes `model` (loadSelfDraft wraps it).
 * Throws SelfDraftUnhelpfulError before touching the GPU when the target is already that small (e.g. a
 * Q4_0 target and self:q4_0).
 */
export async function loadRequantizedCopy(gpu: Gpu, targetFile: GgufFile, targetPath: string, dtype: RequantDtype, options: LoadOptions): Promise<{ model: LlamaModel; file: GgufFile }> {
  checkSelfDraft(targetFile, dtype);
  return loadModel(gpu, targetPath, { ...options, requantize: dtype });
}
