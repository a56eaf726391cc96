// Test models, built on demand into the git-ignored .cache/models/ and reused while their inputs and
// the converter are unchanged. Writes go to a temporary name and are renamed into place, so test files
// running in parallel never see a half-written model.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { convertLlama2c, LLAMA2C_CONVERTER_VERSION, type WeightTypeName } from '../../src/loaders/llama2c';
import { synthesizeModel, SYNTHESIZER_VERSION, type SyntheticSpec } from '../../src/tools/synthesize';
import { openGguf, readTensorBytes } from '../../src/loaders/gguf/reader';
import { GgmlType, GgufValueType, type GgufMetadataEntry, type GgufTensorInfo, type GgufValue } from '../../src/loaders/gguf/types';
import { writeGguf, type GgufTensorToWrite } from '../../src/loaders/gguf/writer';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';

/** The folder holding package.json, found by walking up from this (bundled) file. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export function cacheDir(): string {
  const dir = join(repoRoot(), '.cache', 'models');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function stories260KDir(): string {
  return resolve(repoRoot(), '..', 'shared', 'models', 'stories260K');
}

/** True when the stories260K checkpoint is present (it is test data, not part of the repository). */
export function hasStories260K(): boolean {
  return existsSync(join(stories260KDir(), 'stories260K.bin')) && existsSync(join(stories260KDir(), 'tok512.bin'));
}

export const STORIES260K_HELP =
  'stories260K is missing. Download stories260K/stories260K.bin and stories260K/tok512.bin from ' +
  'https://huggingface.co/karpathy/tinyllamas/tree/main (MIT) into ../shared/models/stories260K/ ' +
  '(next to this repository), then rerun the tests.';

/** The golden greedy tokens after [BOS] (reference_forward.py, float64). */
export function stories260KGolden(): { prompt: number[]; greedy_tokens: number[]; text?: string } {
  return JSON.parse(readFileSync(join(stories260KDir(), 'golden-greedy.json'), 'utf8'));
}

/**
 * Builds `outPath` with `build(tmpPath)` unless it exists, is newer than every input, and was made
 * by the same tool version and spec (recorded in a sidecar `<outPath>.json`).
 */
async function buildOnce(outPath: string, inputs: string[], stamp: unknown, build: (tmp: string) => Promise<void>): Promise<string> {
  const sidecar = `${outPath}.json`;
  const stampText = JSON.stringify(stamp);
  if (existsSync(outPath) && existsSync(sidecar) && readFileSync(sidecar, 'utf8') === stampText) {
    const builtMs = statSync(outPath).mtimeMs;
    if (inputs.every((p) => statSync(p).mtimeMs <= builtMs)) return outPath;
  }
  const tmp = `${outPath}.${process.pid}.tmp`;
  await build(tmp);
  renameSync(tmp, outPath);
  writeFileSync(sidecar, stampText);
  return outPath;
}

/** Path of stories260K converted to GGUF with weights of `type` (norms stay F32). */
export async function ensureStories260K(type: WeightTypeName = 'f32'): Promise<string> {
  const dir = stories260KDir();
  const model = join(dir, 'stories260K.bin');
  const tokenizer = join(dir, 'tok512.bin');
  if (!existsSync(model) || !existsSync(tokenizer)) throw new Error(STORIES260K_HELP);
  const out = join(cacheDir(), `stories260K-${type}.gguf`);
  return buildOnce(out, [model, tokenizer], { converter: LLAMA2C_CONVERTER_VERSION, type }, (tmp) =>
    convertLlama2c(model, tokenizer, tmp, { type, name: 'stories260K' }));
}

/** Path of a synthetic random-weight model `<name>.gguf`, rebuilt when the spec changes. */
export async function ensureSynthetic(name: string, spec: SyntheticSpec): Promise<string> {
  const out = join(cacheDir(), `${name}.gguf`);
  return buildOnce(out, [], { synthesizer: SYNTHESIZER_VERSION, spec }, (tmp) => synthesizeModel(tmp, spec));
}

/** A small llama with a sliding window of 24 positions (GQA 2, F32), for tests that cross its window. */
export const SLIDING_WINDOW_24_SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 512,
  ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 24, tokenizer: 'spm-bytes', slidingWindow: 24, outputScale: 8,
};

/** Path of the SLIDING_WINDOW_24_SPEC model. */
export function ensureSlidingWindow24(): Promise<string> {
  return ensureSynthetic('sliding-window-llama-512', SLIDING_WINDOW_24_SPEC);
}

// llama.cpp (node-llama-cpp, prebuilt CPU binary) as an oracle. node-llama-cpp is an ES module with
// top-level await, so it is imported dynamically from this CommonJS bundle.
type NodeLlamaCpp = typeof import('node-llama-cpp');
let llamaPromise: Promise<import('node-llama-cpp').Llama> | undefined;

export function llamaCpp(): Promise<import('node-llama-cpp').Llama> {
  llamaPromise ??= (import('node-llama-cpp') as Promise<NodeLlamaCpp>).then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error }));
  return llamaPromise;
}

/** Greedy (temperature 0) continuation of `prompt` by llama.cpp: `count` tokens, fewer at the end of context. */
export async function llamaCppGreedy(modelPath: string, prompt: number[], count: number, contextSize = 256): Promise<number[]> {
  const model = await (await llamaCpp()).loadModel({ modelPath });
  try {
    const ctx = await model.createContext({ contextSize, threads: 1 });
    try {
      const out: number[] = [];
      for await (const token of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        out.push(token as number);
        if (out.length >= count || prompt.length + out.length >= contextSize) break;
      }
      return out;
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Copies a GGUF with every tensor dequantized to F32 (metadata kept, file_type set to all-F32). */
export async function dequantizedCopy(srcPath: string, outPath: string): Promise<void> {
  const file = await openGguf(srcPath);
  const metadata = [...file.metadata.entries()].map(([key, value]) => ({ key, value, ...ggufTypeOf(key, value) }));
  await writeGguf(outPath, {
    metadata: metadata.map((m) => (m.key === 'general.file_type' ? { ...m, value: 0 } : m)),
    tensors: file.tensors.map((t) => ({
      name: t.name, dims: t.dims, type: GgmlType.F32,
      data: async () => new Uint8Array(dequantizeTensor(t.type, await readTensorBytes(file, t), t.elementCount, t.name).buffer),
    })),
  });
}

/**
 * The same model with each layer's q, k and v (and their biases, zeros for a missing one when any is there)
 * as one attn_qkv [q | k | v], as the first Phi-2 conversions wrote it. The three must share a type.
 */
export async function fuseQkv(srcPath: string, outPath: string): Promise<void> {
  const file = await openGguf(srcPath);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const isPart = (n: string) => /^blk\.\d+\.attn_[qkv]\.(weight|bias)$/.test(n);
  const added: GgufTensorToWrite[] = [];
  for (let l = 0; byName.has(`blk.${l}.attn_q.weight`); l++) {
    const parts = ['q', 'k', 'v'].map((p) => byName.get(`blk.${l}.attn_${p}.weight`)!);
    if (parts.some((t) => t.type !== parts[0].type)) throw new Error(`layer ${l}: q, k and v of different types`);
    const rows = parts.reduce((s, t) => s + t.dims[1], 0);
    const bytes = await Promise.all(parts.map((t) => readTensorBytes(file, t)));
    added.push({ name: `blk.${l}.attn_qkv.weight`, dims: [parts[0].dims[0], rows], type: parts[0].type, data: Buffer.concat(bytes) });
    const biases = ['q', 'k', 'v'].map((p) => byName.get(`blk.${l}.attn_${p}.bias`));
    if (biases.some(Boolean)) {
      const values = await Promise.all(biases.map(async (b, i) => (b ? dequantizeTensor(b.type, await readTensorBytes(file, b), b.elementCount, b.name) : new Float32Array(parts[i].dims[1]))));
      added.push({ name: `blk.${l}.attn_qkv.bias`, dims: [rows], type: GgmlType.F32, data: Buffer.concat(values.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength))) });
    }
  }
  await rewriteGguf(srcPath, outPath, { keep: (t) => !isPart(t.name), addTensors: added });
}

/** Changes for rewriteGguf: a tensor's new type and bytes (undefined keeps it), tensors dropped, tensors added, metadata keys added or replaced. */
export interface GgufRewrite {
  replace?: (t: GgufTensorInfo, data: Uint8Array) => { type: GgmlType; data: Uint8Array } | undefined;
  /** false drops the tensor (default: every one is kept). */
  keep?: (t: GgufTensorInfo) => boolean;
  addTensors?: GgufTensorToWrite[];
  addMetadata?: GgufMetadataEntry[];
}

/** A changed copy of one of our own (small) GGUFs, for tests of what loading makes of bad or unusual files. */
export async function rewriteGguf(srcPath: string, outPath: string, r: GgufRewrite): Promise<void> {
  const file = await openGguf(srcPath);
  const metadata = [...file.metadata.entries()].map(([key, value]) => ({ key, value, ...ggufTypeOf(key, value) }));
  const tensors = await Promise.all(file.tensors.filter((t) => r.keep?.(t) ?? true).map(async (t) => {
    const data = await readTensorBytes(file, t);
    const changed = r.replace?.(t, data);
    return { name: t.name, dims: t.dims, type: changed?.type ?? t.type, data: changed?.data ?? data };
  }));
  const added = r.addMetadata ?? [];
  const kept = metadata.filter((m) => !added.some((a) => a.key === m.key));
  await writeGguf(outPath, { metadata: [...kept, ...added], tensors: [...tensors, ...(r.addTensors ?? [])] });
}

/** The GGUF types the converter used for each key (enough to rewrite its own files). */
function ggufTypeOf(key: string, value: GgufValue): { type: GgufValueType; arrayType?: GgufValueType } {
  if (typeof value === 'string') return { type: GgufValueType.STRING };
  if (typeof value === 'boolean') return { type: GgufValueType.BOOL };
  if (Array.isArray(value)) {
    const arrayType = typeof value[0] === 'string' ? GgufValueType.STRING : key.endsWith('scores') ? GgufValueType.FLOAT32 : GgufValueType.INT32;
    return { type: GgufValueType.ARRAY, arrayType };
  }
  // Floats that may hold whole numbers (rope.scaling.factor 4, granite.logit_scale 8) stay floats: llama.cpp checks a key's type.
  const float = /epsilon|freq_base|factor|scale_linear|scale$/.test(key);
  return { type: Number.isInteger(value) && !float ? GgufValueType.UINT32 : GgufValueType.FLOAT32 };
}
