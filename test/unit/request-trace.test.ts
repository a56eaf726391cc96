// The per-request trace (TANDEM_TRACE_FILE) around the real CompletionService: the debounce's hold, the
// backend's time and result, and what became of requests that showed nothing (superseded or empty).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CompletionService, type CompletionBackend } from '../../src/completion/service';
import { quietOutcome, RequestTracer, type RequestTraceLine } from '../../src/completion/trace';
import type { CompletionRequest, CompletionResult } from '../../src/completion/types';

const DEBOUNCE_MS = 30;
const settings = { debounceMs: DEBOUNCE_MS, adaptiveDebounce: false, options: { maxTokens: 8 } };

function result(text: string): CompletionResult {
  return { text, rawText: text, stoppedBy: 'stopRule', template: 'test', timings: { promptTokens: 5, generatedTokens: 2, queueMs: 1, tokenizeMs: 1, prefillMs: 3, decodeMs: 4, reusedTokens: 2 } };
}

const request = (prefix: string): CompletionRequest => ({ documentId: 'file:///a.js', prefix, suffix: '\n', path: 'a.js', languageId: 'javascript' });

/**
 * Traces `prefixes` requested in that order, as the provider does: each starts before the previous one
 * resolves; `then` are requested after all of those have resolved.
 */
async function traced(backend: CompletionBackend, prefixes: string[], then: string[] = []): Promise<RequestTraceLine[]> {
  const path = join(mkdtempSync(join(tmpdir(), 'tandem-trace-')), 'trace.jsonl');
  const tracer = RequestTracer.open(path)!;
  const service = new CompletionService(tracer.wrap(backend), settings);
  const ask = async (prefix: string, i: number) => {
    const record = tracer.begin();
    const req = request(prefix);
    tracer.attach(req, record);
    const served = await service.provide(req);
    const outcome = served ? (served.source === 'model' ? 'shown' : 'reused') : quietOutcome(tracer, record);
    tracer.end(record, { documentVersion: i + 1, line: 0, character: prefix.length, promptCache: true, returnedAtMs: Date.now(), outcome, textChars: served?.text.length ?? 0 });
  };
  await Promise.all(prefixes.map(ask));
  for (const [i, prefix] of then.entries()) await ask(prefix, prefixes.length + i);
  await tracer.dispose();
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.seq - b.seq);
}

test('a traced request carries the debounce hold, the backend time and the engine timings', async () => {
  const backend: CompletionBackend = { complete: () => new Promise((r) => setTimeout(() => r(result('x + 1;')), 20)) };
  const [line] = await traced(backend, ['const y = ']);
  assert.equal(line.outcome, 'shown');
  assert.equal(line.textChars, 6);
  assert.ok(line.debounceMs! >= DEBOUNCE_MS - 1, `debounce held ${line.debounceMs} ms`);
  assert.ok(line.backendMs! >= 19, `backend took ${line.backendMs} ms`);
  assert.ok(line.returnedAtMs - line.startedAtMs >= line.debounceMs! + line.backendMs!);
  assert.deepEqual(line.timings, result('').timings);
});

test('a request dropped in the debounce by a newer keystroke is superseded, never sent', async () => {
  let calls = 0;
  const backend: CompletionBackend = { complete: async () => { calls++; return result('z'); } };
  const [first, second] = await traced(backend, ['const y', 'const y ']);
  assert.equal(calls, 1);
  assert.equal(first.outcome, 'superseded');
  assert.equal(first.debounceMs, undefined);
  assert.equal(second.outcome, 'shown');
});

test('nothing worth showing is empty, from the model and again from the completion cache', async () => {
  let calls = 0;
  const backend: CompletionBackend = { complete: async () => { calls++; return result(''); } };
  const [fromModel, fromCache] = await traced(backend, ['let a = '], ['let a = ']);
  assert.equal(fromModel.outcome, 'empty');
  assert.equal(fromCache.outcome, 'empty');
  assert.equal(fromCache.debounceMs, undefined, 'the cache answered: never sent');
  assert.equal(calls, 1);
});

test('no trace file: no tracer', () => {
  assert.equal(RequestTracer.open(undefined), undefined);
  assert.equal(RequestTracer.open(''), undefined);
});
