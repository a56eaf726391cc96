// Load: four simulated editors typing at once against one real llama-server (four slots), each with its
// own CompletionService and RemoteBackend (its own connections, as separate VS Code windows would have).
// Every keystroke cancels the request before it (as VS Code does), so most requests are cancelled
// mid-flight. Reports keystroke-to-ghost-text latency percentiles as JSON lines, and checks that nothing
// leaked: no request still in flight, no socket in use, the server idle, and after dispose the
// connections to the server back to the baseline. Duration: TANDEM_LOAD_SECONDS (default 120, the two minutes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CompletionService, type Served } from '../../src/completion/service';
import { RemoteBackend } from '../../src/remote/backend';
import { Xoshiro128 } from '../../src/tools/prng';
import { ensureStories260K } from '../helpers/testModels';
import { establishedTo, LlamaServer, llamaServerSkipReason } from './llamaServer';

const skip = llamaServerSkipReason();
const seconds = Number(process.env.TANDEM_LOAD_SECONDS ?? 120);
const EDITORS = 4;
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball under a tree. ';

let server: LlamaServer;

before(async () => {
  if (skip) return;
  server = await LlamaServer.start(await ensureStories260K('f32'), ['-c', '2048', '-t', '2', '-np', String(EDITORS), '--metrics']);
}, { timeout: 120_000 });
after(async () => server?.stop());

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const figure = (name: string, value: number, unit: string) => console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));

interface EditorResult { keystrokes: number; served: number; reused: number; cancelled: number; errors: unknown[]; latenciesMs: number[]; backend: RemoteBackend }

/** One editor: types TEXT (again and again) with human gaps until `endAt`, a keystroke cancelling the previous request. */
async function editor(seed: number, endAt: number): Promise<EditorResult> {
  const rng = new Xoshiro128(seed);
  const backend = new RemoteBackend({ url: server.url, api: 'openai', model: '', retries: 0 });
  // A short fixed debounce: most keystrokes reach the server, and the next keystroke cancels them.
  const service = new CompletionService(backend, { debounceMs: 30, adaptiveDebounce: false, options: { maxTokens: 24, temperature: 0, timeBudgetMs: 3000, template: 'prefix-only' } });
  const r: EditorResult = { keystrokes: 0, served: 0, reused: 0, cancelled: 0, errors: [], latenciesMs: [], backend };
  const inFlight = new Set<Promise<void>>();
  let previous: AbortController | undefined;
  let typed = '';
  for (let i = 0; performance.now() < endAt && i < 100_000; i++) {
    typed += TEXT[i % TEXT.length];
    previous?.abort();
    const ac = new AbortController();
    previous = ac;
    r.keystrokes++;
    const t0 = performance.now();
    const p: Promise<void> = service.provide({ prefix: typed.slice(-400), suffix: '', path: `story${seed}.txt`, languageId: 'plaintext' }, { signal: ac.signal })
      .then((s: Served | undefined) => {
        if (!s) r.cancelled++;
        else if (s.source === 'model') { r.served++; r.latenciesMs.push(performance.now() - t0); }
        else r.reused++;
      }, (e) => { r.errors.push(e); })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    // Gaps between keystrokes: mostly 40-160 ms, sometimes a pause to read the suggestion.
    const gapMs = rng.next() < 0.1 ? 400 + 600 * rng.next() : 40 + 120 * rng.next();
    await new Promise((res) => setTimeout(res, gapMs));
  }
  previous?.abort();
  await Promise.all(inFlight);
  return r;
}

test(`load: ${EDITORS} editors typing for ${seconds} s against one llama-server, with cancellations`, { skip, timeout: (seconds + 60) * 1000 }, async () => {
  const baseline = establishedTo(server.port);
  const before = await server.metrics();
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, establishedTo(server.port)); }, 100);
  const endAt = performance.now() + seconds * 1000;
  const results = await Promise.all(Array.from({ length: EDITORS }, (_, i) => editor(i + 1, endAt)));
  clearInterval(sampler);
  const all = results.flatMap((r) => r.latenciesMs);
  const errors = results.flatMap((r) => r.errors);
  const first = results.flatMap((r) => [r.backend.stats().firstTokenMsP50]);
  const keystrokes = results.reduce((s, r) => s + r.keystrokes, 0);
  const served = results.reduce((s, r) => s + r.served, 0);
  const requests = results.reduce((s, r) => s + r.backend.stats().requests, 0);
  const cancelledRequests = results.reduce((s, r) => s + r.backend.stats().cancelled, 0);
  figure('remote-load-keystrokes', keystrokes, 'count');
  figure('remote-load-requests', requests, 'count');
  figure('remote-load-requests-cancelled', cancelledRequests, 'count');
  figure('remote-load-served-by-model', served, 'count');
  figure('remote-load-served-by-reuse', results.reduce((s, r) => s + r.reused, 0), 'count');
  figure('remote-load-latency-p50', pct(all, 0.5), 'ms');
  figure('remote-load-latency-p95', pct(all, 0.95), 'ms');
  figure('remote-load-latency-p99', pct(all, 0.99), 'ms');
  figure('remote-load-first-token-p50-median-editor', pct(first, 0.5), 'ms');
  figure('remote-load-peak-connections', peak, 'count');
  assert.deepEqual(errors, [], 'no request failed');
  assert.ok(served > EDITORS * 5, `completions were shown (${served})`);
  assert.ok(cancelledRequests > 0, 'some requests were cancelled mid-flight');
  // Nothing in flight: no socket of any editor is still carrying a request, and the server is idle.
  for (const r of results) {
    const agent = (r.backend as unknown as { agents: { http: { sockets: Record<string, unknown[]> } } }).agents.http;
    assert.equal(Object.values(agent.sockets).reduce((s, l) => s + l.length, 0), 0, 'no socket in use');
  }
  // The server notices each closed connection at its next token: within a few tokens' time it is idle.
  const settledAt = performance.now();
  let m = await server.metrics();
  while (m.requests_processing > 0 && performance.now() - settledAt < 3000) m = await server.metrics();
  figure('remote-load-server-idle-after', performance.now() - settledAt, 'ms');
  assert.equal(m.requests_processing, 0, 'the server is not generating for anyone');
  figure('remote-load-server-tokens-decoded', m.n_decode_total - before.n_decode_total, 'tokens');
  // Closing the editors closes their keep-alive connections: back to the baseline.
  for (const r of results) r.backend.dispose();
  const deadline = performance.now() + 5000;
  while (establishedTo(server.port) > baseline && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  figure('remote-load-connections-after', establishedTo(server.port), 'count');
  assert.equal(establishedTo(server.port), baseline, 'connections back to the baseline');
});
