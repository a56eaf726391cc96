// A day at the editor, compressed (bench/soak.ts): hundreds of requests from a simulated developer through
// the engine process's request handler, on a model with Qwen2.5's real vocabulary and FIM tokens (random
// weights) and its own Q4_0 copy as draft, in a KV pool small enough that blocks are evicted and documents
// dropped. Nothing may hang or fail internally, and nothing may grow: the GPU buffers alive return to the
// same count and bytes after every stretch of requests, the KV pool adds up, the heap after GC stays
// within what bounded caches take. A leak planted in the engine (a staging buffer and 256 KiB of heap kept
// per request) is caught by both checks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSoak, type SoakOptions } from '../../src/bench/soak';
import { SOAK_FILES } from '../../src/bench/soakEditor';
import { Readback } from '../../src/gpu/buffers';
import type { Gpu } from '../../src/gpu/device';
import { EngineServer } from '../../src/host/engine/server';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { ensureStories260K, ensureSynthetic, repoRoot } from '../helpers/testModels';

const qwenFim: SyntheticSpec = {
  arch: 'qwen2', nLayers: 1, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 151936, contextLength: 2048,
  ropeTheta: 1e6, tiedEmbedding: true, weightType: 'q8_0', seed: 5, tokenizer: 'qwen2',
};

const files = SOAK_FILES.map((f) => join(repoRoot(), f));

async function soakOptions(requests: number): Promise<SoakOptions> {
  return {
    load: { modelPath: await ensureSynthetic('typed-middle-qwen2-q8_0', qwenFim), draftModelPath: 'self:q4_0', maxContextTokens: 1024, kvBudgetBytes: 1 << 20 },
    files, documents: 20, requests, warmupRequests: 150, sampleEvery: 50, maxTokens: 6, prefixTokens: 600, requestTimeoutMs: 60_000,
    // The tokenizer's word cache (up to 10,000 words) still fills here: 3-5 MiB. 8 MiB over 450 requests
    // catches a leak of ~19 KB a request; `tandem bench soak` runs longer for smaller ones.
    heapGrowthLimitBytes: 8 << 20, seed: 3,
  };
}

test('a long editing session: no hang, no internal error, no growth of GPU buffers or heap, the pool adds up', async () => {
  const r = await runSoak(await soakOptions(600));
  const base = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  console.log(JSON.stringify({ outcomes: r.outcomes, actions: r.actions, heapGrowth: last.heapUsedBytes - base.heapUsedBytes, gpuBuffers: last.gpuBuffers, gpuBufferBytes: last.gpuBufferBytes, maxAnswerMs: Math.round(r.maxAnswerMs), totalMs: Math.round(r.totalMs) }));
  assert.deepEqual(r.problems, []);
  assert.equal(r.samples.length, 10, 'a sample every 50 requests from 150 to 600');
  // The session went where it should: requests cancelled mid-stream and in the queue, sampled ones,
  // completions accepted, a binary file, the cache cleared, the model loaded again, a pool under pressure.
  assert.ok((r.outcomes.cancelled ?? 0) >= 20, JSON.stringify(r.outcomes));
  for (const a of ['cancel', 'supersede', 'accept', 'paste', 'cut', 'switch', 'hostile', 'clear', 'reload']) assert.ok((r.actions[a] ?? 0) > 0, `no ${a} in ${JSON.stringify(r.actions)}`);
  // (A reload starts the prompt cache's counts over: the most any sample saw.)
  const most = (k: 'evictions' | 'documentsDropped') => Math.max(...r.samples.map((s) => s[k]));
  assert.ok(most('evictions') > 0 && most('documentsDropped') > 0, `evictions ${most('evictions')}, documents dropped ${most('documentsDropped')}`);
  assert.ok(base.gpuBuffers > 0 && base.gpuBufferBytes > 0);
});

test('a leak planted in the engine (a GPU buffer and 256 KiB of heap per request) is reported', async () => {
  const proto = EngineServer.prototype as unknown as { complete: (...a: unknown[]) => Promise<void> };
  const complete = proto.complete;
  const kept: unknown[] = [];
  proto.complete = async function (this: { gpu?: Gpu }, ...a: unknown[]) {
    if (this.gpu) kept.push(new Readback(this.gpu.device, 256, 'leak'), Array.from({ length: 32768 }, (_, i) => i + 0.5));
    return complete.apply(this, a);
  };
  try {
    const r = await runSoak({ ...(await soakOptions(200)), warmupRequests: 50 });
    assert.ok(r.problems.some((p) => /^GPU buffers at \d+ requests/.test(p)), r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /^the heap after GC grew/.test(p)), r.problems.join('\n'));
  } finally {
    proto.complete = complete;
  }
});

// The same session against a reference engine (bench/soak.ts, SoakOptions.reference): every request is
// answered again by the same model loaded on its own, without a prompt cache (every prompt prefilled
// whole) or a draft, and the greedy tokens must match. stories260K (trained, so its choices are rarely
// near-ties) with its Q8_0 copy as draft, an f32 cache on both sides, and 1 MiB of KV for the target and
// draft together (51 blocks of 16 tokens, about two documents' windows): blocks are evicted and documents
// dropped all along.
async function referenceOptions(requests: number): Promise<SoakOptions> {
  const modelPath = await ensureStories260K('f32');
  return {
    load: { modelPath, draftModelPath: await ensureStories260K('q8_0'), maxContextTokens: 512, kvBudgetBytes: 1 << 20, kvType: 'f32' },
    reference: { modelPath, maxContextTokens: 512, kvType: 'f32', promptCache: false },
    files, documents: 20, requests, warmupRequests: 50, sampleEvery: 50, maxTokens: 8, prefixTokens: 160, requestTimeoutMs: 60_000,
    heapGrowthLimitBytes: 16 << 20, seed: 5,
  };
}

test('against a reference engine: the prefix cache under pressure and every draft mode give the greedy tokens of a fresh engine without drafts', async () => {
  const r = await runSoak(await referenceOptions(300));
  console.log(JSON.stringify({ reference: r.reference, outcomes: r.outcomes, totalMs: Math.round(r.totalMs) }));
  assert.deepEqual(r.problems, []);
  assert.ok(r.reference && r.reference.compared >= 290, JSON.stringify(r.reference));
  // Near-ties are tolerated, so they must stay rare for the comparison to mean something.
  assert.ok(r.reference.nearTies <= 0.05 * r.reference.compared, JSON.stringify(r.reference));
  const most = (k: 'evictions' | 'documentsDropped') => Math.max(...r.samples.map((s) => s[k]));
  assert.ok(most('evictions') > 0 && most('documentsDropped') > 0, `evictions ${most('evictions')}, documents dropped ${most('documentsDropped')}`);
});
