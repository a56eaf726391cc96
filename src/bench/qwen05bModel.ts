// The benchmarks' stand-in for Qwen2.5-Coder-0.5B: its real widths (d 896, ffn 4864, 14 heads / 2 KV heads
// of 64, vocab 151,936) with random weights, at `layers` of the real 24, synthesized once into a cache folder.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { synthesizeModel, type SyntheticSpec } from '../tools/synthesize';
import type { WeightTypeName } from '../loaders/llama2c';

export function qwen05bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'qwen2', nLayers: layers, dModel: 896, nHeads: 14, nKvHeads: 2, ffnDim: 4864, vocabSize: 151936,
    contextLength: 32768, ropeTheta: 1000000, tiedEmbedding: true, weightType, seed: 11, tokenizer: 'spm-bytes',
  };
}

/** The path of the model in `cacheDir` (bench-qwen05b-<layers>L-<type>.gguf), synthesized if it is not there. */
export async function ensureQwen05bModel(cacheDir: string, layers: number, weightType: WeightTypeName = 'q8_0'): Promise<string> {
  const path = join(cacheDir, `bench-qwen05b-${layers}L-${weightType}.gguf`);
  if (!existsSync(path)) await synthesizeModel(path, qwen05bSpec(layers, weightType));
  return path;
}
