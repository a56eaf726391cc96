// The engine process with the real engine on stories260K: spawn on the selected Node.js runtime, load,
// complete (same text as in-process), cancel mid-stream (stops within one token), the per-document prompt
// cache (a keystroke prefills a few tokens, same text, cleared on request), prefill limits changed
// without a reload, typed errors, and a killed engine restarting with its model (and its limits).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { completionModel, runCompletion } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';
import { Gpu } from '../../src/gpu/device';
import { EngineClient, EngineError, type EngineState } from '../../src/host/engine/client';
import { loadModel } from '../../src/model/load';
import { createTokenizer } from '../../src/tokenizer';
import { ensureStories260K, repoRoot, rewriteGguf } from '../helpers/testModels';
import { GgufValueType } from '../../src/loaders/gguf/types';

const story: CompletionRequest = { prefix: 'Once upon a time', suffix: '', path: 'story.txt', languageId: 'plaintext' };
const opts: CompletionOptions = { maxTokens: 24, multiline: 'always', temperature: 0 };

let client: EngineClient;
let modelPath: string;
const logs: string[] = [];
// The runtime is chosen as in the extension (PATH, then this process's own Node), self-test cached here.
const runtime = { storageDir: mkdtempSync(join(tmpdir(), 'tandem-storage-')), webgpuPackageDir: join(repoRoot(), 'node_modules', 'webgpu'), allowDownload: false };

/** Resolves with the first state that satisfies `pred` (now or later). */
function waitState(c: EngineClient, pred: (s: EngineState) => boolean, what: string): Promise<EngineState> {
  if (pred(c.state)) return Promise.resolve(c.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sub.dispose(); reject(new Error(`timed out waiting for ${what}; state ${JSON.stringify(c.state)}`)); }, 60_000);
    const sub = c.onState((s) => {
      if (pred(s)) { clearTimeout(timer); sub.dispose(); resolve(s); }
    });
  });
}

before(async () => {
  modelPath = await ensureStories260K('f32');
  client = new EngineClient({
    enginePath: join(repoRoot(), 'dist', 'engine.js'),
    runtime,
    initialBackoffMs: 20,
    log: (level, m) => logs.push(`${level}: ${m}`),
  });
});

after(async () => {
  await client.dispose();
});

test('before a model is loaded, a completion fails with a hint to choose one', async () => {
  await assert.rejects(client.complete(story, opts), (e: EngineError) => e.code === 'USAGE' && /Select Model/.test(e.hint ?? ''));
});

test('load reports the model and its template; the completion equals the in-process pipeline', async () => {
  const info = await client.load({ modelPath });
  assert.equal(info.name, 'stories260K');
  assert.equal(info.template, 'prefix-only');
  assert.ok(info.decodeTokensPerS !== undefined && info.decodeTokensPerS > 0, `decode speed measured at load: ${info.decodeTokensPerS}`);
  assert.deepEqual(client.state, { kind: 'ready', model: info });
  assert.ok(client.runtime && ['path', 'host'].includes(client.runtime.source), JSON.stringify(client.runtime?.source));
  assert.ok(logs.some((l) => l.includes(`starting the engine on Node.js ${client.runtime!.version} (${client.runtime!.source} `)), logs.join('\n'));
  const chunks: string[] = [];
  const r = await client.complete(story, opts, { onChunk: (t) => chunks.push(t) });
  assert.ok(r.rawText.length > 0);
  assert.equal(chunks.join(''), r.rawText.replace(/\uFFFD$/, ''));
  assert.ok(r.timings.promptTokens > 3 && r.timings.generatedTokens > 0, JSON.stringify(r.timings));

  const gpu = await Gpu.acquire();
  const { model, file } = await loadModel(gpu, modelPath);
  try {
    const local = await runCompletion(completionModel(model, createTokenizer(file.metadata)), story, opts);
    assert.equal(r.rawText, local.rawText);
    assert.equal(r.text, local.text);
  } finally {
    model.dispose();
    gpu.dispose();
  }
});

test('cancel mid-stream: the engine stops within one token and answers "cancelled"', async () => {
  const ac = new AbortController();
  let chunksAtAbort = 0;
  let chunks = 0;
  const r = await client.complete(story, { ...opts, maxTokens: 400 }, {
    signal: ac.signal,
    onChunk: () => {
      chunks++;
      if (chunks === 3) { chunksAtAbort = chunks; ac.abort(); }
    },
  });
  assert.equal(r.stoppedBy, 'cancelled');
  assert.equal(r.text, '');
  // The engine stops within one token of seeing the cancel: at most one token beyond the chunks it had
  // streamed (they arrive before its answer). How many it streamed before the cancel reached it depends
  // on the machine's load (the engine is another process), so that bound is loose: far from the 400 asked.
  const n = r.timings.generatedTokens;
  assert.ok(n <= chunks + 1, `${n} tokens generated, ${chunks} streamed`);
  assert.ok(n < 200, `${n} tokens after a cancel at ${chunksAtAbort}`);
  // and the engine is free for the next request at once
  const next = await client.complete(story, opts);
  assert.notEqual(next.stoppedBy, 'cancelled');
});

test('prompt cache: a request extending the last one on its document prefills a few tokens and gives the same text', async () => {
  const documentId = 'file:///work/story.txt';
  const first: CompletionRequest = { ...story, documentId, prefix: 'Once upon a time, there was a little' };
  const second: CompletionRequest = { ...first, prefix: `${first.prefix} girl` };
  const r1 = await client.complete(first, opts);
  assert.equal(r1.timings.reusedTokens, 0, 'the first request on a new document has nothing to reuse');
  const r2 = await client.complete(second, opts);
  const t = r2.timings;
  const prefilled = t.promptTokens - (t.reusedTokens ?? 0);
  assert.ok((t.reusedTokens ?? 0) > 0 && prefilled <= 4, `reused ${t.reusedTokens} of ${t.promptTokens} prompt tokens`);
  // the same prompt on a fresh sequence (no document): the same tokens
  const plain = await client.complete({ ...second, documentId: undefined }, opts);
  assert.equal(plain.timings.reusedTokens, undefined);
  assert.equal(r2.rawText, plain.rawText);
  assert.equal(r2.text, plain.text);

  const pc = (await client.stats()).promptCache!;
  assert.equal(pc.documents, 1);
  assert.equal(pc.reusedTokens, t.reusedTokens);
  assert.equal(pc.prefilledTokens, r1.timings.promptTokens + prefilled);
  assert.ok(pc.tokenHitRate > 0 && pc.blocksUsed > 0 && pc.blocksUsed + pc.blocksCached + pc.blocksFree === pc.blocksTotal, JSON.stringify(pc));

  // "Clear Cache": the document and the cached blocks are gone, so the same request prefills everything
  await client.clearCache();
  const afterClear = await client.stats();
  assert.equal(afterClear.promptCache!.documents, 0);
  assert.equal(afterClear.promptCache!.blocksUsed + afterClear.promptCache!.blocksCached, 0);
  const r3 = await client.complete(second, opts);
  assert.equal(r3.timings.reusedTokens, 0);
  assert.equal(r3.rawText, plain.rawText);
});

test('prefill limits (the tandem.prefill.* settings) reach the loaded model without a reload; a bad value is refused and changes nothing', async () => {
  // Long enough for a prefill pass of more than one block (stories260K's vocabulary is 512 pieces).
  const long: CompletionRequest = { ...story, prefix: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her dog.' };
  const want = await client.complete(long, opts);
  const before = (await client.stats()).prefill!;
  assert.deepEqual({ ...before, passTokens: undefined }, { passesInFlight: 2, passBudgetMs: 500, passTokens: undefined }, 'the defaults');
  const maxPass = before.passTokens;
  assert.ok(maxPass > 16, `the engine's batch is ${maxPass} tokens`);

  assert.deepEqual(await client.tune({ passBudgetMs: 0.001, passesInFlight: 1 }), { passBudgetMs: 0.001, passesInFlight: 1 });
  // Two requests: the first may compile a pipeline (a pass that compiled is not timed); the second's
  // prefill passes are, and the budget then cuts them to one block.
  for (let i = 0; i < 2; i++) assert.equal((await client.complete(long, opts)).rawText, want.rawText);
  const tuned = (await client.stats()).prefill!;
  assert.deepEqual(tuned, { passesInFlight: 1, passBudgetMs: 0.001, passTokens: 16 }, `pass size was ${maxPass} before`);

  await assert.rejects(client.tune({ passesInFlight: 0 }), (e: EngineError) => e.code === 'USAGE' && /passes in flight 0/.test(e.message));
  await assert.rejects(client.tune({ passBudgetMs: 200, passesInFlight: 1.5 }), (e: EngineError) => e.code === 'USAGE');
  assert.deepEqual((await client.stats()).prefill, tuned, 'a refused change changes nothing, not even its valid field');

  assert.deepEqual(await client.tune({ passBudgetMs: 0 }), { passBudgetMs: 0, passesInFlight: 1 }, 'a field left out stays');
  assert.equal((await client.stats()).prefill!.passTokens, maxPass, 'no bound: whole batches again');

  // A tune while a load is under way is not lost, whether it reaches the engine before the load's message
  // or while the load runs (the engine is running, so load() sends its message after one microtask).
  for (const [passesInFlight, tuneWhileLoading] of [[4, false], [3, true]] as const) {
    const loading = client.load({ modelPath, prefill: { passBudgetMs: 250, passesInFlight: 2 } });
    if (tuneWhileLoading) await new Promise((r) => setImmediate(r));
    await client.tune({ passesInFlight });
    await loading;
    assert.deepEqual({ ...(await client.stats()).prefill, passTokens: undefined }, { passBudgetMs: 250, passesInFlight, passTokens: undefined }, `tuned ${tuneWhileLoading ? 'while the load ran' : 'before the load was sent'}`);
  }
  assert.equal((await client.complete(long, opts)).rawText, want.rawText);
});

test('a long prefill reports its progress: to the request, and to the status bar\'s listener until the request ends', async () => {
  // Every pass reported (the engine's default waits 300 ms into a request: stories260K is done by then).
  const c = new EngineClient({ enginePath: join(repoRoot(), 'dist', 'engine.js'), runtime, env: { ...process.env, TANDEM_PREFILL_REPORT_MS: '0,0' } });
  try {
    await c.load({ modelPath, prefill: { passBudgetMs: 0.001 } });
    const long: CompletionRequest = { ...story, prefix: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her dog. '.repeat(4) };
    await c.complete(long, opts); // times a pass: the budget then cuts every pass to one block
    const seen: { done: number; total: number }[] = [];
    const heard: ({ done: number; total: number } | undefined)[] = [];
    const sub = c.onPrefill((p) => heard.push(p));
    const r = await c.complete({ ...long, prefix: `${long.prefix}The end.` }, opts, { onPrefill: (p) => seen.push(p) });
    sub.dispose();
    const total = r.timings.promptTokens;
    assert.ok(seen.length >= 3, `${seen.length} reports for ${total} tokens: ${JSON.stringify(seen)}`);
    assert.ok(seen.every((p, i) => p.total === total && p.done > (seen[i - 1]?.done ?? 0)), JSON.stringify(seen));
    assert.equal(seen.at(-1)!.done, total, 'the end is reported');
    assert.ok(seen.slice(0, -1).every((p) => p.done % 16 === 0), `passes of a block: ${JSON.stringify(seen)}`);
    assert.deepEqual(heard, [...seen.slice(0, -1), undefined], 'the listener hears the progress, then that it ended');
  } finally {
    await c.dispose();
  }
});

test('a corrupt model file is a typed error with an action', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bad-'));
  const bad = join(dir, 'bad.gguf');
  writeFileSync(bad, Buffer.from('GGUF this is not a model'));
  const c = new EngineClient({ enginePath: join(repoRoot(), 'dist', 'engine.js'), runtime });
  try {
    await assert.rejects(c.load({ modelPath: bad }), (e: EngineError) => e.code === 'MODEL_FORMAT' && !!e.hint);
    assert.equal(c.state.kind, 'error');
  } finally {
    await c.dispose();
  }
});

test('a model whose tokenizer Tandem cannot build: a TOKENIZER error naming it, before any weight is uploaded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-tok-'));
  const bad = join(dir, 'bert-tokenizer.gguf');
  await rewriteGguf(modelPath, bad, { addMetadata: [{ key: 'tokenizer.ggml.model', type: GgufValueType.STRING, value: 'bert' }] });
  const c = new EngineClient({ enginePath: join(repoRoot(), 'dist', 'engine.js'), runtime });
  const uploaded: number[] = [];
  c.onState((s) => { if (s.kind === 'loading' && s.loadedBytes > 0) uploaded.push(s.loadedBytes); });
  try {
    await assert.rejects(c.load({ modelPath: bad }), (e: EngineError) => e.code === 'TOKENIZER' && /tokenizer model 'bert' is not supported/.test(e.message));
    assert.deepEqual(uploaded, [], 'load progress was reported: weights were uploaded before the tokenizer refused the file');
  } finally {
    await c.dispose();
  }
});

test('a killed engine is noticed, restarted with backoff, given its model back, and completes again', async () => {
  const before = await client.complete(story, opts);
  const pid = client.pid;
  const crashed = waitState(client, (s) => s.kind === 'crashed', 'crashed');
  const inFlight = client.complete(story, { ...opts, maxTokens: 400 });
  client.kill('SIGKILL');
  await assert.rejects(inFlight, (e: Error & { code?: string }) => e.code === 'ENGINE_CRASHED');
  const c = await crashed;
  assert.equal(c.kind === 'crashed' && c.reason, 'killed by SIGKILL');
  await waitState(client, (s) => s.kind === 'ready' && s.model?.name === 'stories260K', 'ready with the model again');
  assert.notEqual(client.pid, pid);
  assert.equal(client.restarts, 1);
  const afterRestart = await client.complete(story, opts);
  assert.equal(afterRestart.rawText, before.rawText);
  const stats = await client.stats();
  assert.equal(stats.model?.name, 'stories260K');
  assert.equal(stats.requests, 1);
  assert.deepEqual({ ...stats.prefill, passTokens: undefined }, { passBudgetMs: 250, passesInFlight: 3, passTokens: undefined }, 'the limits last tuned are loaded again');
  assert.ok(logs.some((l) => /restarting in 20 ms/.test(l)), logs.join('\n'));
});
