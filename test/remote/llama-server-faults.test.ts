// Faults a real llama-server produces itself, no protocol mocks (test/unit/remote-backend.test.ts covers
// what a real server cannot be made to send: malformed SSE, 429 with Retry-After, 5xx):
// - an API key: llama-server --api-key answers 401 without it or with a wrong one (REMOTE_AUTH, status
//   'error'); with the key, completions work;
// - a request the server rejects: a prompt longer than its context (the client configured for a bigger
//   one) gets HTTP 400 with the server's reason (REMOTE_BAD_REQUEST, the reason in the message);
// - a busy server: one slot, busy with a long generation; a second editor's request sees no first token
//   within tandem.remote.timeoutMs (REMOTE_TIMEOUT), returns in about that time, and works once the slot frees.
// Skips with the reason when llama-server cannot run here (not root, not Debian).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';
import { RemoteBackend } from '../../src/remote/backend';
import { RemoteError } from '../../src/remote/errors';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { ensureStories260K, ensureSynthetic } from '../helpers/testModels';
import { LlamaServer, llamaServerSkipReason } from './llamaServer';

const skip = llamaServerSkipReason();
if (skip) console.log(`# skipping the llama-server fault tests: ${skip}`);

const servers: LlamaServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function serve(model: string, args: string[]): Promise<LlamaServer> {
  const s = await LlamaServer.start(model, args);
  servers.push(s);
  return s;
}

const story = (prefix: string): CompletionRequest => ({ prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });
const prose: CompletionOptions = { maxTokens: 8, temperature: 0, multiline: 'always', template: 'prefix-only' };

async function remoteError(p: Promise<unknown>): Promise<RemoteError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
  return e;
}

test('llama-server --api-key: no key or a wrong key is REMOTE_AUTH (HTTP 401) with a hint; the right key works', { skip, timeout: 120_000 }, async (t) => {
  const key = 'tandem-test-key-7f3a';
  const s = await serve(await ensureStories260K('f32'), ['-c', '512', '-t', '1', '-np', '1', '--api-key', key]);
  for (const apiKey of [undefined, 'wrong-key']) {
    const b = new RemoteBackend({ url: s.url, api: 'openai', model: '', apiKey, retries: 0 });
    const e = await remoteError(b.complete(story('Once upon a time'), prose));
    t.diagnostic(`${apiKey ?? 'no key'}: ${e.message}`);
    assert.equal(e.code, 'REMOTE_AUTH', e.message);
    assert.equal(e.status, 401);
    assert.match(e.hint, /Set Remote API Key/);
    assert.equal(b.status.kind, 'error');
    b.dispose();
  }
  const b = new RemoteBackend({ url: s.url, api: 'openai', model: '', apiKey: key, retries: 0 });
  const r = await b.complete(story('Once upon a time'), prose);
  assert.ok(r.rawText.length > 0, 'no text with the right key');
  assert.equal(b.status.kind, 'ok');
  b.dispose();
});

test('a prompt longer than the server\'s context: HTTP 400 from llama-server is REMOTE_BAD_REQUEST carrying its reason; no retry', { skip, timeout: 120_000 }, async (t) => {
  const s = await serve(await ensureStories260K('f32'), ['-c', '256', '-t', '1', '-np', '1']);
  // The client believes the server has 8192 tokens of context, so it sends ~1,000 tokens of prompt.
  const b = new RemoteBackend({ url: s.url, api: 'openai', model: '', contextTokens: 8192, retries: 2, retryBaseMs: 10 });
  const long = 'Once upon a time, there was a little girl named Lily. '.repeat(80);
  const e = await remoteError(b.complete(story(long), { ...prose, prefixTokens: 4000 }));
  t.diagnostic(e.message);
  assert.equal(e.code, 'REMOTE_BAD_REQUEST', e.message);
  assert.equal(e.status, 400);
  assert.match(e.message, /context/i, 'the server\'s own reason is lost');
  assert.match(e.hint, /tandem\.maxContextTokens/);
  assert.equal(b.stats().retries, 0, 'a 400 is not worth retrying');
  // A prompt that fits works on the same connection pool.
  const r = await b.complete(story('Once upon a time'), prose);
  assert.ok(r.rawText.length > 0);
  b.dispose();
});

/** A Qwen2-shaped random model with a 151,936-token head: hundreds of tokens/s on one thread, so a long
 *  generation keeps the single slot busy for seconds. */
const slowSpec: SyntheticSpec = {
  arch: 'qwen2', nLayers: 2, dModel: 256, nHeads: 4, nKvHeads: 2, ffnDim: 512, vocabSize: 151936, contextLength: 8192,
  ropeTheta: 1e6, tiedEmbedding: true, weightType: 'q8_0', seed: 11, tokenizer: 'qwen2',
};

test('a busy server (its one slot generating for another editor): REMOTE_TIMEOUT after tandem.remote.timeoutMs, then works once free', { skip, timeout: 180_000 }, async (t) => {
  const s = await serve(await ensureSynthetic('remote-qwen2-fim-q8_0', slowSpec), ['-c', '8192', '-t', '1', '-np', '1', '--metrics']);
  const busy = new RemoteBackend({ url: s.url, api: 'openai', model: '', retries: 0 });
  const ac = new AbortController();
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const long = busy.complete(story('The'), { maxTokens: 6000, temperature: 0, multiline: 'always', template: 'prefix-only', timeBudgetMs: 120_000 }, { signal: ac.signal, onChunk: () => streaming() });
  await started;

  const timeoutMs = 1500;
  const other = new RemoteBackend({ url: s.url, api: 'openai', model: '', retries: 0, timeoutMs });
  const t0 = performance.now();
  const e = await remoteError(other.complete(story('Once'), prose));
  const waitedMs = performance.now() - t0;
  t.diagnostic(`${Math.round(waitedMs)} ms: ${e.message}`);
  assert.equal(e.code, 'REMOTE_TIMEOUT', e.message);
  assert.ok(waitedMs >= timeoutMs * 0.9 && waitedMs < timeoutMs + 3000, `gave up after ${Math.round(waitedMs)} ms (timeout ${timeoutMs} ms)`);
  assert.equal(other.status.kind, 'error');
  assert.match(e.hint, /timeoutMs/);

  // The long generation was still running all along: it is the other editor's, not ours to stop.
  ac.abort();
  const first = await long;
  assert.equal(first.stoppedBy, 'cancelled');
  const r = await other.complete(story('Once'), prose);
  assert.ok(r.rawText.length > 0, 'no text once the slot was free');
  assert.equal(other.status.kind, 'ok');
  busy.dispose();
  other.dispose();
});
