// Hyper-parameters of a Llama/Qwen2-family decoder, read from GGUF metadata (llama.cpp's key names).

import { UnsupportedModelError } from '../common/errors';
import { archKey, metaF32, metaString, metaU32, type GgufMetadata } from '../loaders/gguf/metadata';
import { ropeScalingFromMetadata, type RopeScaling } from './ropeScaling';

export type Architecture = 'llama' | 'qwen2';

export interface ModelConfig {
  architecture: Architecture;
  name: string;
  nLayers: number;
  /** Residual stream width d. */
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Rotated dims per head (rope.dimension_count; = headDim for these families). */
  nRot: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
  ropeTheta: number;
  /** 'normal' rotates adjacent pairs (llama); 'neox' rotates (i, i + nRot/2) (qwen2). */
  ropeStyle: 'normal' | 'neox';
  /** Long-context rope scaling (linear, YaRN), as llama.cpp reads it; per-frequency factors are a tensor (weights.ts). */
  ropeScaling: RopeScaling;
  normEps: number;
  /** Attention span in tokens when the model uses sliding-window attention, else 0. */
  slidingWindow: number;
  /** Queries, keys and values have biases (qwen2). */
  qkvBias: boolean;
}

const SUPPORTED: Record<string, Architecture> = { llama: 'llama', qwen2: 'qwen2' };

export function configFromMetadata(meta: GgufMetadata, vocabSize: number, file?: string): ModelConfig {
  const archName = metaString(meta, 'general.architecture', { file });
  const architecture = SUPPORTED[archName];
  if (!architecture) throw new UnsupportedModelError(`architecture '${archName}' (supported: ${Object.keys(SUPPORTED).join(', ')})`);
  const k = (s: string) => archKey(archName, s);
  const dModel = metaU32(meta, k('embedding_length'), { file });
  const nHeads = metaU32(meta, k('attention.head_count'), { file });
  const nKvHeads = metaU32(meta, k('attention.head_count_kv'), { default: nHeads, file });
  if (nHeads === 0 || dModel % nHeads !== 0) throw new UnsupportedModelError(`embedding_length ${dModel} is not a multiple of head_count ${nHeads}`);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) throw new UnsupportedModelError(`head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`);
  // Mixtral-style files are 'llama' too; their experts are tensors the dense forward pass would not read.
  const experts = metaU32(meta, k('expert_count'), { default: 0, file });
  if (experts > 0) throw new UnsupportedModelError(`a mixture of experts (${experts} experts per layer); Tandem runs dense models`);
  const headDim = metaU32(meta, k('attention.key_length'), { default: dModel / nHeads, file });
  // llama.cpp allows value heads of another size than key heads; our attention kernels do not.
  const valueDim = metaU32(meta, k('attention.value_length'), { default: headDim, file });
  if (valueDim !== headDim) throw new UnsupportedModelError(`value heads of ${valueDim} with key heads of ${headDim}`);
  const nRot = metaU32(meta, k('rope.dimension_count'), { default: headDim, file });
  if (headDim % 2 !== 0 || nRot % 2 !== 0 || nRot > headDim) throw new UnsupportedModelError(`head dim ${headDim} / rope dims ${nRot}`);
  if (headDim > 256) throw new UnsupportedModelError(`head dim ${headDim} > 256`);
  const contextLength = metaU32(meta, k('context_length'), { default: 4096, file });
  return {
    architecture,
    name: metaString(meta, 'general.name', { default: archName }),
    nLayers: metaU32(meta, k('block_count'), { file }),
    dModel,
    nHeads,
    nKvHeads,
    headDim,
    nRot,
    ffnDim: metaU32(meta, k('feed_forward_length'), { file }),
    vocabSize,
    contextLength,
    ropeTheta: metaF32(meta, k('rope.freq_base'), { default: 10000, file }),
    ropeStyle: architecture === 'qwen2' ? 'neox' : 'normal',
    ropeScaling: ropeScalingFromMetadata(meta, archName, contextLength, file),
    normEps: metaF32(meta, k('attention.layer_norm_rms_epsilon'), { default: 1e-5, file }),
    slidingWindow: metaU32(meta, k('attention.sliding_window'), { default: 0, file }),
    qkvBias: architecture === 'qwen2',
  };
}
