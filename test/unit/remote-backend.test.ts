// The remote backend's framing and faults, against a tiny local HTTP server that plays a broken or
// unfriendly inference server (the happy path runs against a real llama-server: test/remote/). Every
// fault must end in a typed error (or an empty, timed-out completion) within its bound, never a hang, and
// the same backend must work again once the server behaves.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { FallbackBackend, SwitchableBackend, type CompletionBackend } from '../../src/completion/backend';
import { CompletionService } from '../../src/completion/service';
import type { CompletionOptions, CompletionRequest, CompletionResult } from '../../src/completion/types';
import { RemoteBackend } from '../../src/remote/backend';
import { RemoteError } from '../../src/remote/errors';
import { buildTextPrompt, estimateTokens, remoteTemplate } from '../../src/remote/prompt';
import { DEFAULT_BUDGETS, defaultSuffixTokens, PSM_SUFFIX_TOKENS } from '../../src/completion/prompt';
import { getTemplate } from '../../src/completion/templates';
import { buildWireRequest, decodeStream, endpoint } from '../../src/remote/protocols';
import { PrefixStarts } from '../../src/completion/window';
import { lines, sseEvents } from '../../src/remote/sse';

type Handler = (req: IncomingMessage, res: ServerResponse, body: any) => void;
let handler: Handler = (_q, res) => res.end();
let server: Server;
let base: string;
const seen: { path: string; headers: IncomingMessage['headers']; body: any }[] = [];

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const req: CompletionRequest = { prefix: 'function add(a, b) {\n  return ', suffix: '\n}\n', path: 'a.ts', languageId: 'typescript' };
const opts: CompletionOptions = { maxTokens: 16, temperature: 0, timeBudgetMs: 3000 };

function sse(res: ServerResponse, events: string[], end = true): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(e);
  if (end) res.end();
}
const chunk = (text: string, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ text, index: 0, finish_reason: finish }] })}\n\n`;
const good: Handler = (_q, res) => sse(res, [chunk('a'), chunk(' + b;'), chunk('', 'stop'), 'data: [DONE]\n\n']);

async function rejectsWith(p: Promise<unknown>, code: string, within: number): Promise<RemoteError> {
  const t0 = performance.now();
  const e = await p.then(() => undefined, (x) => x);
  assert.ok(e instanceof RemoteError, `expected a RemoteError ${code}, got ${e}`);
  assert.equal(e.code, code, e.message);
  assert.ok(performance.now() - t0 < within, `took ${performance.now() - t0} ms`);
  assert.ok(e.hint.length > 10);
  return e;
}

async function* chunksOf(s: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

test('SSE framing: the same events whatever the chunking (1 byte, mid-CRLF, mid-UTF-8), comments and multi-line data', async () => {
  const body = ': keep-alive\r\ndata: {"a":"é→"}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata:nospace\n\ndata: [DONE]';
  const want = [{ event: undefined, data: '{"a":"é→"}' }, { event: 'x', data: 'line1\nline2' }, { event: undefined, data: 'nospace' }, { event: undefined, data: '[DONE]' }];
  for (const size of [1, 2, 3, 7, 1000]) assert.deepEqual(await collect(sseEvents(chunksOf(body, size))), want, `chunk size ${size}`);
  assert.deepEqual(await collect(lines(chunksOf('a\r\nb\n\nc', 1))), ['a', 'b', '', 'c']);
});

test('stream decoding: text pieces, [DONE], usage, skipped malformed events, error events and empty bodies are protocol errors', async () => {
  const ok = chunk('x') + 'data: {oops\n\n' + chunk('y', 'length') + `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n` + chunk('never');
  const pieces = await collect(decodeStream('openai', chunksOf(ok, 5), 'x'));
  assert.deepEqual(pieces.map((p) => p.text).join(''), 'xy');
  assert.equal(pieces.find((p) => p.finish)?.finish, 'length');
  assert.deepEqual(pieces.at(-1)?.usage, { promptTokens: 5, reusedTokens: undefined, generatedTokens: 2 });
  // The server's prefix cache (llama-server, vLLM): prompt_tokens_details.cached_tokens.
  const cached = `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 19, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 17 } } })}\n\ndata: [DONE]\n\n`;
  assert.deepEqual((await collect(decodeStream('openai', chunksOf(cached, 7), 'x'))).at(-1)?.usage, { promptTokens: 19, reusedTokens: 17, generatedTokens: 2 });
  await assert.rejects(collect(decodeStream('openai', chunksOf('data: {bad\n\n'.repeat(5), 4), 'x')), (e: RemoteError) => e.code === 'REMOTE_PROTOCOL');
  await assert.rejects(collect(decodeStream('openai', chunksOf('<html>proxy login</html>', 4), 'x')), (e: RemoteError) => e.code === 'REMOTE_PROTOCOL');
  await assert.rejects(collect(decodeStream('openai', chunksOf('data: {"error":{"message":"boom"}}\n\n', 4), 'x')), /boom/);
  // /infill: tokens_evaluated is the whole prompt, timings.prompt_n the tokens prefilled, cache_n those the slot held.
  const infill = 'data: {"content":"ab","stop":false}\n\ndata: {"content":"","stop":true,"stop_type":"limit","tokens_evaluated":31,"timings":{"cache_n":29,"prompt_n":2,"predicted_n":3}}\n\n';
  const ip = await collect(decodeStream('llama-server-infill', chunksOf(infill, 3), 'x'));
  assert.equal(ip[1].finish, 'length');
  assert.deepEqual(ip[1].usage, { promptTokens: 31, reusedTokens: 29, generatedTokens: 3 });
  const older = 'data: {"content":"","stop":true,"timings":{"prompt_n":7,"predicted_n":3}}\n\n';
  assert.deepEqual((await collect(decodeStream('llama-server-infill', chunksOf(older, 3), 'x')))[0].usage, { promptTokens: 7, reusedTokens: undefined, generatedTokens: 3 });
  const ollama = '{"response":"a","done":false}\n{"response":"b","done":false}\n{"response":"","done":true,"done_reason":"stop","prompt_eval_count":4,"eval_count":2}\n';
  assert.equal((await collect(decodeStream('ollama', chunksOf(ollama, 5), 'x'))).map((p) => p.text).join(''), 'ab');
});

test('raw FIM prompts per template, template from the model name, endpoints with or without /v1', () => {
  assert.equal(remoteTemplate('auto', 'Qwen/Qwen2.5-Coder-7B'), 'qwen2.5-coder');
  assert.equal(remoteTemplate('auto', 'qwen2.5-coder:1.5b-base'), 'qwen2.5-coder');
  assert.equal(remoteTemplate('auto', 'bigcode/starcoder2-3b'), 'starcoder2');
  assert.equal(remoteTemplate('auto', 'bigcode/starcoderbase-1b'), 'starcoder');
  assert.equal(remoteTemplate('auto', 'TabbyML/StarCoder-7B'), 'starcoder');
  assert.equal(remoteTemplate('auto', 'smallcloudai/Refact-1_6B-fim'), 'starcoder');
  assert.equal(remoteTemplate('auto', 'THUDM/codegeex4-all-9b'), 'codegeex4');
  assert.equal(remoteTemplate('auto', 'stories260K'), 'prefix-only');
  assert.equal(remoteTemplate('auto', 'google/codegemma-2b'), 'codegemma');
  assert.equal(remoteTemplate('codellama', 'x'), 'codellama');
  // CodeGemma: other files ended by its file separator, which is a stop text too.
  const g = buildTextPrompt('codegemma', { ...req, contextFiles: [{ path: 'b.ts', text: 'export const b = 1;' }] });
  assert.equal(g.text, '// Path: b.ts\nexport const b = 1;\n\n<|file_separator|><|fim_prefix|>function add(a, b) {\n<|fim_suffix|>\n}\n<|fim_middle|>  return ');
  assert.ok(g.stop.includes('<|file_separator|>'));
  // Seed-Coder: suffix first, the middle token last.
  assert.equal(remoteTemplate('auto', 'ByteDance-Seed/Seed-Coder-8B-Base'), 'seed-coder');
  assert.equal(buildTextPrompt('seed-coder', req).text, '<[fim-suffix]>\n}\n<[fim-prefix]>function add(a, b) {\n  return <[fim-middle]>');
  const p = buildTextPrompt('qwen2.5-coder', { ...req, contextFiles: [{ path: 'b.ts', text: 'export const b = 1;' }] });
  // The cursor's line after <|fim_middle|> (completion/middle.ts); all of the prefix first with tandem.fimTypedMiddle off.
  assert.equal(p.text, '<|repo_name|>workspace\n<|file_sep|>b.ts\nexport const b = 1;\n<|file_sep|>a.ts\n<|fim_prefix|>function add(a, b) {\n<|fim_suffix|>\n}\n<|fim_middle|>  return ');
  assert.deepEqual([p.prefix, p.middle], [req.prefix, '  return ']);
  assert.equal(buildTextPrompt('qwen2.5-coder', req, undefined, undefined, undefined, 'auto', false).text, '<|fim_prefix|>function add(a, b) {\n  return <|fim_suffix|>\n}\n<|fim_middle|>');
  // Code Llama: suffix first by default ("<PRE> <SUF>S <MID> P", its reference code's format), PSM on request.
  assert.equal(buildTextPrompt('codellama', req).text, '<PRE> <SUF>\n}\n <MID> function add(a, b) {\n  return ');
  assert.equal(buildTextPrompt('codellama', req, undefined, undefined, undefined, 'psm').text, '<PRE> function add(a, b) {\n  return  <SUF>\n}\n <MID>');
  assert.equal(buildTextPrompt('qwen2.5-coder', req, undefined, undefined, undefined, 'spm').text, buildTextPrompt('qwen2.5-coder', req).text);
  assert.equal(buildTextPrompt('prefix-only', req).text, req.prefix);
  assert.equal(endpoint('http://h:8000/v1/', '/v1/completions').href, 'http://h:8000/v1/completions');
  assert.equal(endpoint('http://h:8000', '/infill').href, 'http://h:8000/infill');
});

test('typed middle over the wire: raw FIM prompts keep the text before the anchor while typing on; /infill sends all of the prefix (the server puts `prompt` before the suffix)', () => {
  const starts = new PrefixStarts();
  const sent = (api: 'openai' | 'llama-server-infill', prefix: string, typedMiddle = true) => {
    const keep = starts.keepFor(api, DEFAULT_BUDGETS.prefixTokens);
    const w = buildWireRequest(api, { req: { ...req, documentId: api, prefix }, model: '', template: 'qwen2.5-coder', budgets: DEFAULT_BUDGETS, maxTokens: 8, temperature: 0, keep, typedMiddle });
    starts.remember(api, w.prefixStartLine, w.prefix, w.middle.length);
    return { ...w, json: w.json as Record<string, unknown> };
  };
  const first = sent('openai', req.prefix);
  assert.equal(first.json.prompt, '<|fim_prefix|>function add(a, b) {\n<|fim_suffix|>\n}\n<|fim_middle|>  return ');
  assert.equal(first.prefix, req.prefix, 'post-processing sees all of the text before the cursor');
  // A new line typed: the anchor stays, the middle spans both lines, the prompt only grew at its end.
  const later = sent('openai', req.prefix + 'a +\n    b');
  assert.equal(later.json.prompt, first.json.prompt + 'a +\n    b');
  assert.equal(sent('openai', req.prefix, false).json.prompt, '<|fim_prefix|>function add(a, b) {\n  return <|fim_suffix|>\n}\n<|fim_middle|>');
  const infill = sent('llama-server-infill', req.prefix);
  assert.deepEqual([infill.json.input_prefix, infill.middle, 'prompt' in infill.json], [req.prefix, '', false]);
});

test('a streamed completion: post-processed like the local engine, API key as a bearer token, usage as timings', async () => {
  handler = good;
  const b = new RemoteBackend({ url: base + '/v1', api: 'openai', model: 'qwen2.5-coder-7b', apiKey: 'sk-test' });
  const chunks: string[] = [];
  const r = await b.complete(req, opts, { onChunk: (t) => chunks.push(t) });
  assert.equal(r.text, 'a + b;');
  assert.equal(r.stoppedBy, 'stopToken');
  assert.deepEqual(chunks, ['a', ' + b;']);
  assert.equal(r.template, 'qwen2.5-coder');
  const last = seen.at(-1)!;
  assert.equal(last.path, '/v1/completions');
  assert.equal(last.headers.authorization, 'Bearer sk-test');
  assert.equal(last.body.stream, true);
  assert.match(last.body.prompt, /^<\|fim_prefix\|>function add/);
  assert.equal(b.status.kind, 'ok');
  b.dispose();
});

test('an API key is never sent over plain HTTP to another machine', () => {
  assert.throws(() => new RemoteBackend({ url: 'http://gpu-box.example:8000', api: 'openai', model: 'm', apiKey: 'sk' }), (e: RemoteError) => e.code === 'REMOTE_CONFIG');
  new RemoteBackend({ url: 'https://gpu-box.example:8000', api: 'openai', model: 'm', apiKey: 'sk' }).dispose();
});

test('HTTP 401, 429 and 500: typed errors with the server\'s message; 429 is retried after Retry-After, then works', async () => {
  const b = new RemoteBackend({ url: base, api: 'openai', model: 'm', retries: 1, retryBaseMs: 10 });
  handler = (_q, res) => { res.writeHead(401, { 'content-type': 'application/json' }); res.end('{"error":{"message":"Invalid API Key"}}'); };
  const e401 = await rejectsWith(b.complete(req, opts, {}), 'REMOTE_AUTH', 2000);
  assert.match(e401.message, /Invalid API Key/);
  assert.equal(b.status.kind, 'error');
  handler = (_q, res) => { res.writeHead(500); res.end('{"error":{"code":500,"message":"slot crashed"}}'); };
  assert.match((await rejectsWith(b.complete(req, opts, {}), 'REMOTE_SERVER', 2000)).message, /slot crashed/);
  handler = (_q, res) => { res.writeHead(429, { 'retry-after': '0' }); res.end('slow down'); };
  const n = seen.length;
  await rejectsWith(b.complete(req, opts, {}), 'REMOTE_RATE_LIMITED', 2000);
  assert.equal(seen.length - n, 2, 'one try and one retry');
  let calls = 0;
  handler = (q, res, body) => (++calls === 1 ? (res.writeHead(429, { 'retry-after': '0' }), res.end()) : good(q, res, body));
  assert.equal((await b.complete(req, opts, {})).text, 'a + b;');
  assert.equal(b.status.kind, 'ok');
  b.dispose();
});

test('malformed SSE and a connection dropped mid-stream: clear errors, no hang; the next request works', async () => {
  const b = new RemoteBackend({ url: base, api: 'openai', model: 'm', retries: 0 });
  handler = (_q, res) => sse(res, ['data: {"choices": [{"text": 1}]}\n\n', 'data: not json\n\n', 'data: {\n\n', 'data: }\n\n', 'data: [[\n\n']);
  await rejectsWith(b.complete(req, opts, {}), 'REMOTE_PROTOCOL', 2000);
  handler = (_q, res) => { sse(res, [chunk('a')], false); setTimeout(() => res.socket?.destroy(), 20); };
  await rejectsWith(b.complete(req, opts, {}), 'REMOTE_CLOSED', 2000);
  handler = good;
  assert.equal((await b.complete(req, opts, {})).text, 'a + b;');
  b.dispose();
});

test('nothing listening: REMOTE_UNREACHABLE after the retries, fast', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const b = new RemoteBackend({ url: `http://127.0.0.1:${port}`, api: 'openai', model: 'm', retries: 2, retryBaseMs: 10 });
  await rejectsWith(b.complete(req, opts, {}), 'REMOTE_UNREACHABLE', 2000);
  assert.equal(b.stats().retries, 2);
  b.dispose();
});

test('nothing listening and the request cancelled while it waits to retry (the user typed on): the status says the server is down', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const b = new RemoteBackend({ url: `http://127.0.0.1:${port}`, api: 'openai', model: 'm', retries: 2, retryBaseMs: 2000 });
  const ac = new AbortController();
  const seen: string[] = [];
  b.onStatus((st) => { seen.push(st.kind); if (st.kind === 'error') ac.abort(); });
  const r = await b.complete(req, { ...opts, timeBudgetMs: 10_000 }, { signal: ac.signal });
  assert.equal(r.stoppedBy, 'cancelled');
  assert.deepEqual(seen, ['error']);
  assert.equal(b.status.kind, 'error');
  assert.equal(b.status.kind === 'error' && b.status.error.code, 'REMOTE_UNREACHABLE');
  b.dispose();
});

test('a slow server (first token after 5 s): the time budget ends the request with no text and status "slow"; a silent socket times out', { timeout: 5000 }, async () => {
  let closed = 0;
  let bothClosed!: () => void;
  const bothClosedP = new Promise<void>((r) => (bothClosed = r));
  handler = (q, res) => { q.socket.once('close', () => { if (++closed === 2) bothClosed(); }); res.writeHead(200, { 'content-type': 'text/event-stream' }); setTimeout(() => { if (!res.destroyed) res.end(chunk('late')); }, 5000).unref(); };
  const b = new RemoteBackend({ url: base, api: 'openai', model: 'm' });
  const t0 = performance.now();
  const r = await b.complete(req, { ...opts, timeBudgetMs: 300 }, {});
  assert.equal(r.stoppedBy, 'timeBudget');
  assert.equal(r.text, '');
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(b.status.kind, 'slow');
  const s = new RemoteBackend({ url: base, api: 'openai', model: 'm', timeoutMs: 200, retries: 0 });
  await rejectsWith(s.complete(req, { ...opts, timeBudgetMs: undefined }, {}), 'REMOTE_TIMEOUT', 1500);
  // The server sees both connections close (it would stop generating); a hang here fails the test by its timeout.
  await bothClosedP;
  b.dispose();
  s.dispose();
});

test('cancel: the HTTP connection closes (the server sees it) and the result is "cancelled"', async () => {
  let closedAt = 0;
  handler = (q, res) => {
    q.socket.once('close', () => (closedAt = performance.now()));
    sse(res, [chunk('a')], false);
    const timer = setInterval(() => res.write(chunk(' b')), 10);
    res.on('close', () => clearInterval(timer));
  };
  const b = new RemoteBackend({ url: base, api: 'openai', model: 'm' });
  const ac = new AbortController();
  let abortedAt = 0;
  const r = await b.complete(req, { ...opts, multiline: 'always', maxTokens: 1000 }, { signal: ac.signal, onChunk: () => { if (!abortedAt) { abortedAt = performance.now(); ac.abort(); } } });
  assert.equal(r.stoppedBy, 'cancelled');
  assert.equal(r.text, '');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(closedAt > 0 && closedAt - abortedAt < 200, 'server-side socket closed right after the abort');
  b.dispose();
});

test('fallback to the local engine on a remote failure (not on a cancel), and switching backends between requests', async () => {
  const local: CompletionBackend = { complete: async (): Promise<CompletionResult> => ({ text: 'local', rawText: 'local', stoppedBy: 'stopToken', template: 'x', timings: { promptTokens: 0, generatedTokens: 1, queueMs: 0, tokenizeMs: 0, prefillMs: 0, decodeMs: 0 } }) };
  handler = (_q, res) => { res.writeHead(503); res.end(); };
  const remote = new RemoteBackend({ url: base, api: 'openai', model: 'm', retries: 0 });
  const fellBack: unknown[] = [];
  const fb = new FallbackBackend(remote, local, { fallbackReady: () => true, onFallback: (e) => fellBack.push(e) });
  const sw = new SwitchableBackend(fb);
  const service = new CompletionService(sw, { debounceMs: 0, adaptiveDebounce: false, options: opts });
  assert.equal((await service.provide(req, { explicit: true }))?.text, 'local');
  assert.ok(fellBack[0] instanceof RemoteError);
  handler = good;
  sw.use(remote);
  service.clearCache();
  const served = await service.provide(req, { explicit: true });
  assert.equal(served?.text, 'a + b;');
  // The same typed-along reuse as with the local engine: typing 'a ' serves the rest without a request.
  const n = seen.length;
  assert.deepEqual(await service.provide({ ...req, prefix: req.prefix + 'a ' }, { explicit: true }), { text: '+ b;', source: 'typed-along' });
  assert.equal(seen.length, n);
  const noLocal = new FallbackBackend(new RemoteBackend({ url: 'http://127.0.0.1:9', api: 'openai', model: 'm', retries: 0 }), local, { fallbackReady: () => false });
  await rejectsWith(noLocal.complete(req, opts, {}), 'REMOTE_UNREACHABLE', 2000);
  remote.dispose();
});

test('a document\'s prompts keep their prefix window start while the user types, so the server\'s prefix cache keeps matching; without a document they re-anchor', async () => {
  handler = good;
  const b = new RemoteBackend({ url: base, api: 'openai', model: 'qwen2.5-coder-7b' });
  const small: CompletionOptions = { ...opts, prefixTokens: 100, suffixTokens: 10, contextFileTokens: 0 };
  const doc = Array.from({ length: 200 }, (_, i) => `const v${String(i).padStart(3, '0')} = f(${i});\n`); // 24 characters, ~8 estimated tokens a line
  const prefixesSent = async (documentId: string | undefined): Promise<string[]> => {
    const out: string[] = [];
    for (let line = 100; line < 130; line++) {
      const n = seen.length;
      await b.complete({ ...req, documentId, prefix: doc.slice(0, line).join(''), suffix: '' }, small, {});
      const prompt: string = seen[n].body.prompt;
      out.push(prompt.slice('<|fim_prefix|>'.length, prompt.indexOf('<|fim_suffix|>')));
    }
    return out;
  };
  const restarts = (ps: string[]) => ps.filter((p, i) => i > 0 && !p.startsWith(ps[i - 1])).length;
  const kept = await prefixesSent('file:///a.ts');
  const anchored = await prefixesSent(undefined);
  // 30 lines of ~8 tokens typed with a 100-token budget kept up to 200: a restart at most every ~12 lines.
  assert.ok(restarts(kept) <= 3, `${restarts(kept)} restarts with a document`);
  assert.ok(restarts(anchored) > restarts(kept), `${restarts(anchored)} restarts without a document, ${restarts(kept)} with`);
  assert.ok(Math.max(...kept.map((p) => p.length)) > 1.5 * 300, 'kept windows grow past the budget (100 tokens ~ 300 characters)');
  b.dispose();
});

test('suffix budget when unset: half in PSM order without a typed middle (every keystroke re-reads it), the SPM one otherwise; a set one is used as is', async () => {
  handler = good;
  const longSuffix = Array.from({ length: 200 }, (_, i) => `const w${i} = g(${i});\n`).join('');
  const suffixSent = async (model: string, o: CompletionOptions, cut: (prompt: string) => string): Promise<number> => {
    const b = new RemoteBackend({ url: base, api: 'openai', model });
    const n = seen.length;
    await b.complete({ ...req, suffix: longSuffix }, o, {});
    b.dispose();
    return estimateTokens(cut(seen[n].body.prompt as string));
  };
  const qwenSuffix = (p: string) => p.slice(p.indexOf('<|fim_suffix|>') + '<|fim_suffix|>'.length, p.indexOf('<|fim_middle|>'));
  const llamaSuffix = (p: string) => p.slice(p.indexOf('<SUF>') + '<SUF>'.length, p.indexOf(' <MID>'));
  const unset: CompletionOptions = { ...opts, suffixTokens: undefined };
  assert.equal(defaultSuffixTokens(getTemplate('qwen2.5-coder')), DEFAULT_BUDGETS.suffixTokens);
  assert.equal(defaultSuffixTokens(getTemplate('qwen2.5-coder'), false), PSM_SUFFIX_TOKENS);
  assert.equal(defaultSuffixTokens(getTemplate('codellama')), DEFAULT_BUDGETS.suffixTokens);
  const psm = await suffixSent('qwen2.5-coder-7b', { ...unset, typedMiddle: false }, qwenSuffix);
  const spm = await suffixSent('codellama-7b', unset, llamaSuffix);
  const typedMiddle = await suffixSent('qwen2.5-coder-7b', unset, qwenSuffix);
  // Whole lines (~6 estimated tokens each) within each budget.
  assert.ok(psm <= PSM_SUFFIX_TOKENS && psm > PSM_SUFFIX_TOKENS / 2, `PSM suffix ${psm} tokens`);
  assert.ok(spm <= DEFAULT_BUDGETS.suffixTokens && spm > 1.6 * psm, `SPM suffix ${spm} tokens, PSM ${psm}`);
  assert.equal(typedMiddle, spm, 'PSM with a typed middle: the full suffix');
  // Code Llama in PSM order on request (it takes no typed middle): the PSM default; a set budget wins over both.
  assert.ok(await suffixSent('codellama-7b', { ...unset, fimOrder: 'psm' }, llamaSuffix) <= PSM_SUFFIX_TOKENS);
  const set = await suffixSent('qwen2.5-coder-7b', { ...opts, suffixTokens: 256 }, qwenSuffix);
  assert.ok(set > PSM_SUFFIX_TOKENS + 64, `set suffix ${set} tokens`);
});
