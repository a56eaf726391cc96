// Shared by the stories260K speculative-decoding tests: the F32 target and its Q8_0 / Q4_0 drafts loaded
// once per test file (each with its own block pool), prompts, and plain greedy decoding as the reference.

import { test } from 'node:test';
import { ensureStories260K, stories260KGolden } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import type { LlamaModel } from '../../src/model/llama';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import { generate } from '../../src/engine/generate';
import { Rng } from '../../src/engine/sampler';
import type { GgufFile } from '../../src/loaders/gguf/types';

const OPTIONS = { maxContextTokens: 256, maxBatchTokens: 32, maxLogitRows: 32 };

export interface Loaded { model: LlamaModel; file: GgufFile; pool: BlockPool }
let models: Promise<Record<'f32' | 'q8_0' | 'q4_0', Loaded>> | undefined;
export function stories(): Promise<Record<'f32' | 'q8_0' | 'q4_0', Loaded>> {
  models ??= (async () => {
    const gpu = await testGpu();
    const load = async (type: 'f32' | 'q8_0' | 'q4_0') => {
      const { model, file } = await loadModel(gpu, await ensureStories260K(type), OPTIONS);
      return { model, file, pool: new BlockPool(model.kv.nBlocks, model.options.blockSize) };
    };
    return { f32: await load('f32'), q8_0: await load('q8_0'), q4_0: await load('q4_0') };
  })();
  return models;
}

/** Registers disposal of the models (and a check for GPU validation errors) after the file's tests. */
export function disposeStoriesAfterTests(): void {
  test.after(async () => {
  if (!models) return;
  for (const m of Object.values(await models)) m.model.dispose();
  const errors = (await testGpu()).takeErrors();
  if (errors.length) throw new Error(`GPU validation errors: ${errors.join('; ')}`);
  });
}

/** Prompts: [BOS], the golden run's start, and BOS + random tokens of a few lengths. */
export function prompts(): number[][] {
  const g = stories260KGolden();
  const rng = new Rng(3);
  const random = (n: number) => [1, ...Array.from({ length: n }, () => 3 + Math.floor(rng.next() * 509))];
  return [g.prompt, [...g.prompt, ...g.greedy_tokens.slice(0, 20)], random(6), random(40), random(15), random(80)];
}

export async function plain(t: Loaded, prompt: number[], n: number) {
  const seq = new Sequence(t.pool);
  const r = await generate(t.model, seq, prompt, { maxTokens: n });
  return { tokens: r.tokens, seq };
}

