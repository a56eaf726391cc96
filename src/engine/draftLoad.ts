// Loading a draft model beside its target: the same context and batch limits (a verify pass and the
// draft's catch-up feed share the target's shapes), and the vocabulary check before anything runs, so an
// incompatible pair fails at load time with a DraftVocabularyError, never as garbage output.

import type { Gpu } from '../gpu/device';
import type { GgufFile } from '../loaders/gguf/types';
import type { LlamaModel } from '../model/llama';
import { loadModel, type LoadOptions } from '../model/load';
import { ModelDraft } from './draft';
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
}

/** Loads `path` as a draft for `target`; the caller disposes `model`. Throws DraftVocabularyError on a mismatch. */
export async function loadDraftModel(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, path: string, o: Pick<LoadOptions, 'onProgress'> = {}): Promise<LoadedDraftModel> {
  const { model, file } = await loadModel(gpu, path, { maxContextTokens: target.options.maxContextTokens, maxBatchTokens: target.options.maxBatchTokens, onProgress: o.onProgress });
  try {
    const mapping = checkDraftVocabulary(targetFile.metadata, target.config.vocabSize, file.metadata, model.config.vocabSize);
    return { model, file, draft: new ModelDraft(model, { mapping, minConfidence: DRAFT_MIN_CONFIDENCE }) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
