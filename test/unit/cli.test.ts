// The CLI as a script sees it: exit codes, JSON output, typed errors on bad input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStories260K, ensureSynthetic, rewriteGguf, stories260KGolden } from '../helpers/testModels';
import { synthesizeModel } from '../../src/tools/synthesize';
import { GgmlType } from '../../src/loaders/gguf/types';
import { tandem } from '../helpers/cli';


test('inspect --json: architecture, shapes, memory, tokenizer', async () => {
  const r = tandem('inspect', await ensureStories260K('f32'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.config.architecture, 'llama');
  assert.equal(info.config.nLayers, 5);
  assert.equal(info.config.nKvHeads, 4);
  assert.equal(info.tokenizer.vocabSize, 512);
  // stories260K has no FIM tokens: completions would send the prefix only.
  assert.deepEqual([info.tokenizer.fimTemplate.name, info.tokenizer.fimTemplate.order], ['prefix-only', 'prefix']);
  assert.ok(info.memory.weightBytes > 1_000_000);
});

test('inspect: a qwen3moe file names its experts in text and JSON', async () => {
  const path = await ensureSynthetic('cli-qwen3moe', {
    arch: 'qwen3moe', nLayers: 1, dModel: 64, nHeads: 2, nKvHeads: 1, headDim: 32, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 1e6, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes', experts: { count: 16, used: 4, ffnDim: 32 },
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /shape +1 layers, d 64, experts 16 x ffn 32, 4 a token, heads 2/);
  const json = JSON.parse(tandem('inspect', path, '--json').stdout);
  assert.deepEqual(json.config.experts, { count: 16, used: 4, ffnDim: 32, normalizeWeights: true, weightsScale: 1, denseLeadingLayers: 0, shared: null });
});

test('inspect: a granitemoe file with a shared expert names it in text and JSON', async () => {
  const path = await ensureSynthetic('cli-granitemoe-shexp', {
    arch: 'granitemoe', nLayers: 1, dModel: 64, nHeads: 2, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes', experts: { count: 8, used: 2, ffnDim: 32, sharedFfnDim: 48 },
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /shape +1 layers, d 64, experts 8 x ffn 32, 2 a token, a shared expert of ffn 48, heads 2/);
  assert.match(text.stdout, /tensors +\d+, every one read and runnable/);
  assert.deepEqual(JSON.parse(tandem('inspect', path, '--json').stdout).config.experts.shared, { ffnDim: 48, gated: false });
});

test('inspect: a deepseek file names its scaled experts, shared experts and leading dense layer', async () => {
  const path = await ensureSynthetic('cli-deepseek', {
    arch: 'deepseek', nLayers: 2, dModel: 64, nHeads: 2, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes', experts: { count: 8, used: 2, ffnDim: 32, sharedCount: 2, denseLeading: 1, weightsScale: 16 },
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /experts 8 x ffn 32, 2 a token \(weights not renormalised\) x 16, a shared expert of ffn 64, the first 1 layer\(s\) dense of ffn 128, heads 2/);
  assert.match(text.stdout, /tensors +\d+, every one read and runnable/);
});

test('inspect: a starcoder file says its positions are learned (no rope), and completes', async () => {
  const path = await ensureSynthetic('cli-starcoder', {
    arch: 'starcoder', nLayers: 1, dModel: 64, nHeads: 2, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes',
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /position +context 256, learned position embedding \(no rope\)/);
  assert.match(text.stdout, /tensors +\d+, every one read and runnable/);
  const json = JSON.parse(tandem('inspect', path, '--json').stdout);
  assert.deepEqual([json.config.positions, json.config.qkv, json.config.nRot], ['learned', 'fused', 0]);
  const r = tandem('complete', '--model', path, '--prompt-tokens', '1,2,3', '--max-tokens', '4', '--no-stop', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tokens.length, 4);
});

test('inspect: a refact file says it uses ALiBi (no rope), and completes', async () => {
  const path = await ensureSynthetic('cli-refact', {
    arch: 'refact', nLayers: 1, dModel: 64, nHeads: 2, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes',
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /position +context 256, ALiBi, max bias 8 \(no rope\)/);
  assert.match(text.stdout, /tensors +\d+, every one read and runnable/);
  const json = JSON.parse(tandem('inspect', path, '--json').stdout);
  assert.deepEqual([json.config.positions, json.config.alibiMaxBias, json.config.nRot], ['alibi', 8, 0]);
  const r = tandem('complete', '--model', path, '--prompt-tokens', '1,2,3', '--max-tokens', '4', '--no-stop', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tokens.length, 4);
});

test('complete --json with --prompt-tokens gives the golden greedy tokens and timings', async () => {
  const golden = stories260KGolden();
  const r = tandem('complete', '--model', await ensureStories260K('f32'), '--prompt-tokens', '1', '--max-tokens', '24', '--no-stop', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.tokens, golden.greedy_tokens.slice(0, 24));
  assert.ok(out.timings.decodeTokensPerS > 0);
  assert.equal(typeof out.text, 'string');
});

test('a truncated GGUF exits 4 with a ModelFormatError naming the field, in text and in JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
  const bad = join(dir, 'truncated.gguf');
  writeFileSync(bad, readFileSync(await ensureStories260K('f32')).subarray(0, 5000));
  const r = tandem('inspect', bad);
  assert.equal(r.status, 4);
  assert.match(r.stderr, /invalid model file: /);
  const j = tandem('complete', '--model', bad, '--prompt', 'x', '--json');
  assert.equal(j.status, 4);
  assert.equal(JSON.parse(j.stdout).error.code, 'MODEL_FORMAT');
});

test('usage errors exit 2; a missing file is a clear error, not a stack trace', () => {
  assert.equal(tandem('complete', '--prompt', 'x').status, 2);
  assert.equal(tandem('frobnicate').status, 2);
  const missing = tandem('inspect', '/nonexistent/model.gguf');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /nonexistent/);
});

// Dispatches of one decode step, stories260K (5 layers): the software kernels run 8 a layer (rmsnorm,
// qkv, attention with RoPE fused in, output projection, rmsnorm, gate/up, silu, down) + embed, final
// norm, head, argmax; the GPU kernels fuse the norms, silu and the merge of split attention into the
// split-K matvecs: 5 a layer + embed, head, argmax. A fusion that silently stops applying shows here.
test('bench decode: dispatches per decode token, software and GPU kernel sets; bench verify: a pass over 1..17 positions vs one', async () => {
  const model = await ensureStories260K('f32');
  const figures = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { name: string; value: number; ratio?: number });
  const dispatches = (...flags: string[]) => {
    const r = tandem('bench', 'decode', '--model', model, '--context', '64', '--tokens', '2', '--runs', '1', ...flags);
    assert.equal(r.status, 0, r.stderr);
    return figures(r.stdout).find((f) => f.name === 'dispatches per decode token')!.value;
  };
  assert.equal(dispatches('--matvec', 'rows', '--split-keys', '0'), 5 * 8 + 4);
  assert.equal(dispatches('--matvec', 'splitKi', '--split-keys', '16'), 5 * 5 + 3);
  const r = tandem('bench', 'verify', '--model', model, '--context', '32', '--runs', '1', '--matvec', 'rows');
  assert.equal(r.status, 0, r.stderr);
  const passes = figures(r.stdout).filter((f) => f.name.startsWith('verify pass of'));
  assert.deepEqual(passes.map((f) => f.name), [1, 2, 3, 5, 9, 17].map((n) => `verify pass of ${n} positions`));
  assert.equal(passes[0].ratio, 1);
  assert.ok(passes.every((f) => f.value > 0));
  assert.equal(tandem('bench', 'decode', '--model', model, '--split-keys', '-1').status, 2);
});

// bench dispatch: the fixed costs are positive, the host figure adds up from its parts, and with a model the
// floor counts the dispatches a real decode pass encodes (the software set: 8 a layer + 4, as above).
test('bench dispatch: per-dispatch GPU and host costs, and the floor they put under a decode pass', async () => {
  const model = await ensureStories260K('f32');
  const r = tandem('bench', 'dispatch', '--model', model, '--context', '64', '--matvec', 'rows');
  assert.equal(r.status, 0, r.stderr);
  const figures = new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string | null>).map((f) => [f.name as string, f]));
  const gpu = figures.get('GPU time per dependent dispatch')!;
  const host = figures.get('host time per dispatch')!;
  const floor = figures.get('dispatch floor of a decode pass')!;
  assert.ok((gpu.value as number) > 0 && (gpu.independentWallUs as number) > 0, JSON.stringify(gpu));
  assert.ok(Math.abs((host.value as number) - (host.encodeUs as number) - (host.submitUs as number)) < 0.01, JSON.stringify(host));
  assert.ok((figures.get('host time of the three Dawn calls, each alone')!.setBindGroupUs as number) > 0);
  assert.equal(floor.dispatchesPerPass, 5 * 8 + 4);
  const perDispatchUs = Math.max(host.value as number, gpu.value as number);
  assert.ok(Math.abs((floor.value as number) - (44 * perDispatchUs) / 1000) < 0.01, JSON.stringify(floor));
  assert.ok(Math.abs((floor.ratio as number) - (floor.value as number) / (floor.rooflineMs as number)) < 0.05 * (floor.ratio as number));
  assert.equal(tandem('bench', 'dispatch', '--matvec', 'bogus').status, 2);
  const badDtype = tandem('bench', 'matvec', '--dtypes', 'q4_k,q9_k');
  assert.equal(badDtype.status, 2);
  assert.match(badDtype.stderr, /--dtypes: .*got "q9_k"/);
});

// bench load: the repack of each quantized type in the file against a memcpy, and on the repack threads
// against one thread; loadModel against a raw upload of the same bytes (the file's tensor bytes, as
// inspect counts them), and with the repack threads against the repack on the loading thread.
test('bench load: load time against a raw upload of the same bytes, and the repack per weight type', async () => {
  const model = await ensureStories260K('q8_0');
  const r = tandem('bench', 'load', '--model', model, '--runs', '2');
  assert.equal(r.status, 0, r.stderr);
  const figures = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  const repack = figures.filter((f) => (f.name as string).startsWith('repack '));
  assert.deepEqual(repack.map((f) => (f.name as string).replace(/\d+ threads?$/, 'N threads')), ['repack q8_0', 'repack q8_0, N threads']);
  assert.ok((repack[0].value as number) > 0 && (repack[0].memcpyGBps as number) > 0, JSON.stringify(repack[0]));
  assert.ok((repack[1].value as number) > 0 && (repack[1].ratio as number) > 0, JSON.stringify(repack[1]));
  const load = figures.find((f) => f.name === 'model load time')!;
  assert.ok((load.value as number) > 0 && (load.rawUploadMs as number) > 0 && (load.repackThreads as number) >= 1, JSON.stringify(load));
  const info = JSON.parse(tandem('inspect', model, '--json').stdout) as { tensorTypes: Record<string, { bytes: number }> };
  assert.equal(load.fileBytes, Object.values(info.tensorTypes).reduce((s, t) => s + t.bytes, 0));
  const threads = figures.find((f) => f.name === 'model load time, repack threads against the loading thread')!;
  assert.ok((threads.value as number) > 0 && (threads.oneThreadMs as number) > 0, JSON.stringify(threads));
  // The self-draft's load: an F32 file requantized to Q4_0 while it streams.
  const f32 = await ensureStories260K('f32');
  const rq = tandem('bench', 'load', '--model', f32, '--runs', '1', '--requantize', 'q4_0');
  assert.equal(rq.status, 0, rq.stderr);
  const rqLoad = rq.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>).find((f) => f.name === 'model load time')!;
  assert.equal(rqLoad.requantize, 'q4_0');
  assert.ok((rqLoad.value as number) > 0, JSON.stringify(rqLoad));
  const badRq = tandem('bench', 'load', '--model', f32, '--requantize', 'q5_k');
  assert.equal(badRq.status, 2);
  assert.match(badRq.stderr, /--requantize q4_0\|q8_0/);
  assert.equal(tandem('bench', 'load').status, 2);
});

test('inspect shows rope scaling and per-frequency factors, and names a tensor the forward pass would not read or cannot run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
  const path = join(dir, 'scaled.gguf');
  await synthesizeModel(path, {
    arch: 'llama', nLayers: 1, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 300, contextLength: 16384,
    ropeTheta: 500000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes',
    ropeScaling: { type: 'yarn', factor: 4, originalContext: 4096, attnFactor: 0.9 }, llama3Rope: { factor: 8, originalContext: 64, lowFreqFactor: 1, highFreqFactor: 4 },
  });
  const text = tandem('inspect', path);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /scaling yarn x4 from 4096, attn x0\.9, per-frequency factors \(rope_freqs\)/);
  assert.match(text.stdout, /tensors +12, every one read and runnable/);
  const j = JSON.parse(tandem('inspect', path, '--json').stdout);
  assert.equal(j.config.ropeScaling.type, 'yarn');
  assert.equal(j.unsupported, null);

  const withBias = join(dir, 'bias.gguf');
  await rewriteGguf(path, withBias, { addTensors: [{ name: 'output.bias', dims: [300], type: GgmlType.F32, data: new Uint8Array(1200) }] });
  const r = tandem('inspect', withBias);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tensors +unsupported model: tensor output\.bias \(a bias\)/);
  const q8_1 = join(dir, 'q8_1.gguf');
  // Q8_1: blocks of 32 weights in 36 bytes, a type llama.cpp uses for activations.
  await rewriteGguf(path, q8_1, { replace: (t) => t.name === 'blk.0.ffn_up.weight' ? { type: GgmlType.Q8_1, data: new Uint8Array((64 * 128 / 32) * 36) } : undefined });
  assert.match(tandem('inspect', q8_1).stdout, /tensors +tensor blk\.0\.ffn_up\.weight has type Q8_1, which Tandem cannot run yet/);
});
