// The benchmarks' stand-ins for real models: their real widths with random weights, at `layers` of the
// real depth, synthesized once into a cache folder.
//   qwen2.5-0.5b: Qwen2.5-Coder-0.5B, d 896, ffn 4864, 14 heads / 2 KV heads of 64, vocab 151,936, tied; 24 layers.
//   qwen3-0.6b:   Qwen3-0.6B, d 1024, ffn 3072, 16 heads / 8 KV heads of 128 (q 2048 wide), per-head q/k
//                 norms, vocab 151,936, tied; 28 layers.
//   starcoder2-3b: StarCoder2-3B, d 3072, ffn 12288 (GELU, no gate), 24 heads / 2 KV heads of 128,
//                 LayerNorms and biases, vocab 49,152, tied; 30 layers.
//   starcoderbase-1b: StarCoderBase-1B (and Tabby's StarCoder-1B), d 2048, ffn 8192 (GELU, no gate), 16 heads /
//                 1 KV head of 128 (multi-query), a fused qkv, learned positions (8,192 rows), LayerNorms and
//                 biases, vocab 49,152, tied; 24 layers.
//   refact-1.6b:  Refact-1.6B, d 2048, ffn 5632 (SwiGLU), 32 heads / 1 KV head of 64 (multi-query), ALiBi, no
//                 biases, vocab 49,216, untied; 32 layers.
//   codegemma-2b: CodeGemma-2B, d 2048, ffn 16384 (GeGLU), 8 heads / 1 KV head of 256, embedding x sqrt(d),
//                 vocab 256,000, tied; 18 layers. Its output head (557 MB in Q8_0) is a fifth of a decode
//                 pass's weight bytes at full depth, 83% at one layer.
//   qwen3-coder-30b-a3b: Qwen3-Coder-30B-A3B, d 2048, 32 heads / 4 KV heads of 128 (q 4096 wide), per-head q/k
//                 norms, 128 experts of ffn 768 per layer, 8 a token, vocab 151,936, untied; 48 layers. A layer
//                 holds 604M expert weights (642 MB in Q8_0), of which a token reads 8/128.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { synthesizeModel, type SyntheticSpec } from '../tools/synthesize';
import type { WeightTypeName } from '../loaders/llama2c';

export const BENCH_SHAPES = ['qwen2.5-0.5b', 'qwen3-0.6b', 'starcoder2-3b', 'starcoderbase-1b', 'refact-1.6b', 'codegemma-2b', 'qwen3-coder-30b-a3b'] as const;
export type BenchShape = (typeof BENCH_SHAPES)[number];

/** Layers of the real model of each shape (the --full run). */
export const REAL_LAYERS: Record<BenchShape, number> = { 'qwen2.5-0.5b': 24, 'qwen3-0.6b': 28, 'starcoder2-3b': 30, 'starcoderbase-1b': 24, 'refact-1.6b': 32, 'codegemma-2b': 18, 'qwen3-coder-30b-a3b': 48 };

export function qwen05bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'qwen2', nLayers: layers, dModel: 896, nHeads: 14, nKvHeads: 2, ffnDim: 4864, vocabSize: 151936,
    contextLength: 32768, ropeTheta: 1000000, tiedEmbedding: true, weightType, seed: 11, tokenizer: 'spm-bytes',
  };
}

export function qwen3_06bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'qwen3', nLayers: layers, dModel: 1024, nHeads: 16, nKvHeads: 8, headDim: 128, ffnDim: 3072, vocabSize: 151936,
    contextLength: 40960, ropeTheta: 1000000, tiedEmbedding: true, weightType, seed: 12, tokenizer: 'spm-bytes',
  };
}

export function starcoder2_3bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'starcoder2', nLayers: layers, dModel: 3072, nHeads: 24, nKvHeads: 2, ffnDim: 12288, vocabSize: 49152,
    contextLength: 16384, ropeTheta: 999999.4420358813, tiedEmbedding: true, weightType, seed: 13, tokenizer: 'spm-bytes',
  };
}

export function starcoderbase1bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'starcoder', nLayers: layers, dModel: 2048, nHeads: 16, nKvHeads: 1, ffnDim: 8192, vocabSize: 49152,
    contextLength: 8192, ropeTheta: 10000, tiedEmbedding: true, weightType, seed: 16, tokenizer: 'spm-bytes',
  };
}

export function refact16bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'refact', nLayers: layers, dModel: 2048, nHeads: 32, nKvHeads: 1, ffnDim: 5632, vocabSize: 49216,
    contextLength: 4096, ropeTheta: 10000, tiedEmbedding: false, weightType, seed: 17, tokenizer: 'spm-bytes',
  };
}

export function codegemma2bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'gemma', nLayers: layers, dModel: 2048, nHeads: 8, nKvHeads: 1, headDim: 256, ffnDim: 16384, vocabSize: 256000,
    contextLength: 8192, ropeTheta: 10000, tiedEmbedding: true, weightType, seed: 14, tokenizer: 'spm-bytes',
  };
}

export function qwen3Coder30bA3bSpec(layers: number, weightType: WeightTypeName): SyntheticSpec {
  return {
    arch: 'qwen3moe', nLayers: layers, dModel: 2048, nHeads: 32, nKvHeads: 4, headDim: 128, ffnDim: 6144, vocabSize: 151936,
    contextLength: 262144, ropeTheta: 10000000, tiedEmbedding: false, weightType, seed: 15, tokenizer: 'spm-bytes',
    experts: { count: 128, used: 8, ffnDim: 768 },
  };
}

const SPECS: Record<BenchShape, (layers: number, weightType: WeightTypeName) => SyntheticSpec> = {
  'qwen2.5-0.5b': qwen05bSpec, 'qwen3-0.6b': qwen3_06bSpec, 'starcoder2-3b': starcoder2_3bSpec, 'starcoderbase-1b': starcoderbase1bSpec, 'refact-1.6b': refact16bSpec, 'codegemma-2b': codegemma2bSpec,
  'qwen3-coder-30b-a3b': qwen3Coder30bA3bSpec,
};

/** The path of the model in `cacheDir` (bench-qwen05b-<layers>L-<type>.gguf), synthesized if it is not there. */
export function ensureQwen05bModel(cacheDir: string, layers: number, weightType: WeightTypeName = 'q8_0'): Promise<string> {
  return ensureBenchModel(cacheDir, 'qwen2.5-0.5b', layers, weightType);
}

const FILE_STEM: Record<BenchShape, string> = { 'qwen2.5-0.5b': 'bench-qwen05b', 'qwen3-0.6b': 'bench-qwen3-06b', 'starcoder2-3b': 'bench-starcoder2-3b', 'starcoderbase-1b': 'bench-starcoderbase-1b', 'refact-1.6b': 'bench-refact-1.6b', 'codegemma-2b': 'bench-codegemma-2b', 'qwen3-coder-30b-a3b': 'bench-qwen3-coder-30b-a3b' };

/** The path of a `shape` model in `cacheDir` (<stem>-<layers>L-<type>.gguf), synthesized if it is not there. */
export async function ensureBenchModel(cacheDir: string, shape: BenchShape, layers: number, weightType: WeightTypeName = 'q8_0'): Promise<string> {
  const path = join(cacheDir, `${FILE_STEM[shape]}-${layers}L-${weightType}.gguf`);
  if (!existsSync(path)) await synthesizeModel(path, SPECS[shape](layers, weightType));
  return path;
}
