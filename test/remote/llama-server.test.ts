// The remote backend against a real llama.cpp llama-server (Debian's llama.cpp-tools in a chroot, installed
// by scripts/llama-server-setup.sh), no protocol mocks: greedy completions equal the local engine's tokens
// for the same prompt, /infill on a model with FIM tokens, a cancel stops the server's generation, a
// server killed mid-stream or not started is a typed error and the next request works once it is back.
// Skips with the reason when it cannot run here (not root, not Debian).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CompletionService } from '../../src/completion/service';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { RemoteBackend } from '../../src/remote/backend';
import { RemoteError } from '../../src/remote/errors';
import { ensureStories260K, ensureSynthetic, repoRoot } from '../helpers/testModels';
import { LlamaServer, llamaServerSkipReason } from './llamaServer';

const skip = llamaServerSkipReason();
if (skip) console.log(`# skipping the llama-server tests: ${skip}`);

/** Exact comparisons: f32 KV cache, no flash attention, one thread, one slot. */
const EXACT = ['-c', '512', '-t', '1', '-np', '1', '-fa', 'off', '-ctk', 'f32', '-ctv', 'f32', '--metrics'];

/** A Qwen2-shaped random model with the real Qwen2.5 vocabulary (FIM tokens) and a large output head, so
 *  decoding is slow enough (hundreds of tok/s on one thread) for cancellation to be measured. */
const qwenFim: SyntheticSpec = {
  arch: 'qwen2', nLayers: 2, dModel: 256, nHeads: 4, nKvHeads: 2, ffnDim: 512, vocabSize: 151936, contextLength: 8192,
  ropeTheta: 1e6, tiedEmbedding: true, weightType: 'q8_0', seed: 11, tokenizer: 'qwen2',
};

let stories: LlamaServer;
let qwen: LlamaServer | undefined;
let storiesPath: string;

before(async () => {
  if (skip) return;
  storiesPath = await ensureStories260K('f32');
  stories = await LlamaServer.start(storiesPath, EXACT);
}, { timeout: 120_000 });

after(async () => {
  await stories?.stop();
  await qwen?.stop();
});

async function qwenServer(): Promise<LlamaServer> {
  qwen ??= await LlamaServer.start(await ensureSynthetic('remote-qwen2-fim-q8_0', qwenFim), ['-c', '8192', '-t', '1', '-np', '1', '--metrics']);
  return qwen;
}

const story = (prefix: string): CompletionRequest => ({ prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });
/** Greedy, one long "line" of prose: the stop rule and post-processing leave the text alone. */
const greedy: CompletionOptions = { maxTokens: 48, temperature: 0, multiline: 'always', template: 'prefix-only' };

function localComplete(model: string, promptTokens: number[], maxTokens: number): { tokens: number[]; text: string } {
  const out = execFileSync(process.execPath, [join(repoRoot(), 'dist', 'cli.js'), 'complete', '--model', model, '--prompt-tokens', promptTokens.join(','), '--max-tokens', String(maxTokens), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 });
  return JSON.parse(out);
}

test('greedy completions through the remote backend equal the local engine\'s tokens for the same prompt', { skip, timeout: 180_000 }, async () => {
  const b = new RemoteBackend({ url: stories.url, api: 'openai', model: '' });
  for (const prompt of ['Once upon a time', 'Lily wanted to play with', 'The sun was']) {
    // The prompt as llama-server tokenizes it (with its BOS): the local engine gets exactly these ids.
    const ids = (await stories.json<{ tokens: number[] }>('/tokenize', { content: prompt, add_special: true })).tokens;
    const local = localComplete(storiesPath, ids, greedy.maxTokens);
    const remote = await b.complete(story(prompt), greedy, {});
    assert.ok(remote.stoppedBy === 'maxTokens' || remote.stoppedBy === 'stopToken', remote.stoppedBy);
    assert.equal(remote.rawText, local.text, `text after '${prompt}'`);
    assert.equal(remote.timings.promptTokens, ids.length);
    // The server's own tokens for the same ids, for the token-level check.
    const server = await stories.json<{ tokens: number[] }>('/completion', { prompt: ids, n_predict: greedy.maxTokens, temperature: 0, return_tokens: true });
    assert.deepEqual(server.tokens, local.tokens, `tokens after '${prompt}'`);
  }
  b.dispose();
});

test('the completion service over the remote backend: the same cache and typed-along reuse', { skip, timeout: 60_000 }, async () => {
  const b = new RemoteBackend({ url: stories.url, api: 'openai', model: '' });
  const service = new CompletionService(b, { debounceMs: 0, adaptiveDebounce: false, options: { ...greedy, maxTokens: 16 } });
  const first = await service.provide(story('Once upon a time'), { explicit: true });
  assert.equal(first?.source, 'model');
  const typed = first!.text.slice(0, 4);
  const along = await service.provide(story('Once upon a time' + typed), { explicit: true });
  assert.deepEqual(along, { text: first!.text.slice(4), source: 'typed-along' });
  assert.equal(b.stats().requests, 1);
  b.dispose();
});

test('/infill: llama-server lays out the FIM prompt from the model\'s own tokens; a model without them is REMOTE_NOT_SUPPORTED', { skip, timeout: 180_000 }, async () => {
  const none = new RemoteBackend({ url: stories.url, api: 'llama-server-infill', model: '' });
  await assert.rejects(none.complete(story('Once'), greedy, {}), (e: RemoteError) => e.code === 'REMOTE_NOT_SUPPORTED' && /FIM|Infill|prefix token/i.test(e.message));
  none.dispose();
  const q = await qwenServer();
  const b = new RemoteBackend({ url: q.url, api: 'llama-server-infill', model: '' });
  const req: CompletionRequest = { prefix: 'def add(a, b):\n    return ', suffix: '\n\nprint(add(1, 2))\n', path: 'a.py', languageId: 'python', contextFiles: [{ path: 'b.py', text: 'X = 1\n' }] };
  const r = await b.complete(req, { maxTokens: 12, temperature: 0, multiline: 'always' }, {});
  // Random weights: the text itself is noise (often specials, which stream as ''); the server's counts say
  // it built a prompt from the parts and generated the tokens asked for.
  assert.equal(r.stoppedBy, 'maxTokens');
  assert.equal(r.timings.generatedTokens, 12);
  assert.ok(r.timings.promptTokens > 10, `the server built a prompt (${r.timings.promptTokens} tokens)`);
  // The raw-prompt route to the same server, with Tandem's qwen2.5-coder layout written as text.
  const oa = new RemoteBackend({ url: q.url, api: 'openai', model: 'qwen2.5-coder' });
  const r2 = await oa.complete(req, { maxTokens: 12, temperature: 0, multiline: 'always' }, {});
  assert.equal(r2.template, 'qwen2.5-coder');
  assert.ok(r2.timings.promptTokens > 10);
  b.dispose();
  oa.dispose();
});

test('typed middle through llama-server: typing on a line, its prefix cache reuses all but a few tokens (the whole suffix again without); /infill reports its cache too', { skip, timeout: 180_000 }, async () => {
  const q = await qwenServer();
  const suffix = '\n}\n' + Array.from({ length: 12 }, (_, i) => `console.log(total([${i}, ${i + 1}]));\n`).join('');
  const line = '  let sum = 0; for (const x of items) sum += x;';
  const typeLine = async (api: 'openai' | 'llama-server-infill', typedMiddle: boolean) => {
    const b = new RemoteBackend({ url: q.url, api, model: 'qwen2.5-coder' });
    const prefilled: number[] = [];
    for (let n = 0; n <= line.length; n += 6) {
      const r = await b.complete({ documentId: `${api}-${typedMiddle}`, prefix: 'function total(items) {\n' + line.slice(0, n), suffix, path: 'a.js', languageId: 'javascript' }, { maxTokens: 2, temperature: 0, multiline: 'always', typedMiddle }, {});
      assert.ok(r.timings.reusedTokens !== undefined && r.timings.promptTokens > r.timings.reusedTokens, `${api}: the server reports its cache (${r.timings.reusedTokens} of ${r.timings.promptTokens})`);
      if (n > 0) prefilled.push(r.timings.promptTokens - r.timings.reusedTokens);
    }
    // The status view's figure: the server's reused share over the answered requests.
    const st = b.stats();
    assert.ok(st.cacheReportedPromptTokens > 0 && st.reusedTokens <= st.cacheReportedPromptTokens, JSON.stringify(st));
    if (api === 'openai' && typedMiddle) assert.ok(st.reusedTokens > 0.7 * st.cacheReportedPromptTokens, JSON.stringify(st));
    b.dispose();
    return prefilled;
  };
  const on = await typeLine('openai', true);
  const off = await typeLine('openai', false);
  const infill = await typeLine('llama-server-infill', true);
  assert.ok(Math.max(...on) <= 6, `typed middle: the server prefilled ${on.join(',')}`);
  assert.ok(Math.min(...off) >= 12 * 8, `without: the server prefilled ${off.join(',')}`);
  assert.ok(Math.min(...infill) >= 12 * 8, `/infill (no typed middle): the server prefilled ${infill.join(',')}`);
});

test('a cancelled request stops the server\'s generation', { skip, timeout: 180_000 }, async () => {
  const q = await qwenServer();
  const b = new RemoteBackend({ url: q.url, api: 'openai', model: '' });
  const req = story('The');
  // The server's decode speed, from a short uncancelled run.
  const probe = await b.complete(req, { maxTokens: 64, temperature: 0, multiline: 'always', template: 'prefix-only' }, {});
  const msPerToken = probe.timings.decodeMs / Math.max(1, probe.timings.generatedTokens - 1);
  const maxTokens = 4000;
  const before = await q.metrics();
  const ac = new AbortController();
  let chunks = 0;
  let abortedAt = 0;
  const r = await b.complete(req, { maxTokens, temperature: 0, multiline: 'always', template: 'prefix-only', timeBudgetMs: 60_000 }, {
    signal: ac.signal,
    onChunk: () => { if (++chunks === 8) { abortedAt = performance.now(); ac.abort(); } },
  });
  assert.equal(r.stoppedBy, 'cancelled');
  // The slot is free long before the 4000 tokens could have been generated: the next request is served
  // at once (one slot: it would queue behind a generation still running).
  const next = await b.complete(req, { maxTokens: 4, temperature: 0, multiline: 'always', template: 'prefix-only' }, {});
  const freeAfterMs = performance.now() - abortedAt;
  const fullMs = maxTokens * msPerToken;
  const after = await q.metrics();
  const decoded = after.n_decode_total - before.n_decode_total;
  console.log(`# cancel: ${msPerToken.toFixed(2)} ms/token, next request done ${freeAfterMs.toFixed(0)} ms after the abort (the full generation: ~${fullMs.toFixed(0)} ms); server decoded ${decoded} tokens for both`);
  assert.ok(next.rawText.length > 0);
  assert.ok(freeAfterMs < fullMs / 4, `server busy ${freeAfterMs} ms after the cancel`);
  assert.ok(decoded < maxTokens / 4, `the server decoded ${decoded} tokens`);
  b.dispose();
});

test('server killed mid-stream, then not running: typed errors, no hang; requests work again once it is back', { skip, timeout: 180_000 }, async () => {
  const q = await qwenServer();
  const b = new RemoteBackend({ url: q.url, api: 'openai', model: '', retries: 1, retryBaseMs: 50 });
  const req = story('The');
  let killing: Promise<void> | undefined;
  const t0 = performance.now();
  const e = await b.complete(req, { maxTokens: 4000, temperature: 0, multiline: 'always', template: 'prefix-only', timeBudgetMs: 60_000 }, {
    onChunk: () => { killing ??= q.kill(); },
  }).then(() => undefined, (x) => x);
  await killing;
  assert.ok(e instanceof RemoteError && e.code === 'REMOTE_CLOSED', String(e));
  assert.ok(performance.now() - t0 < 10_000);
  await assert.rejects(b.complete(req, { maxTokens: 4, temperature: 0 }, {}), (x: RemoteError) => x.code === 'REMOTE_UNREACHABLE' && x.message.includes(q.url.replace('http://', '')));
  assert.equal(b.status.kind, 'error');
  qwen = await q.restart();
  const r = await b.complete(req, { maxTokens: 4, temperature: 0, multiline: 'always', template: 'prefix-only' }, {});
  assert.ok(r.rawText.length > 0);
  assert.equal(b.status.kind, 'ok');
  b.dispose();
});
