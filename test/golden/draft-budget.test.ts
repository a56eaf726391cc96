// One KV budget for a model and its draft, end to end on stories260K: the engine host (tandem.memoryBudgetMB
// arrives as kvBudgetBytes) and `tandem complete --kv-budget-mib` split it between the target's and the
// draft's pools — together within the budget, the same number of blocks (± one) — and still complete
// exactly as plain decoding does; a budget without one block of each fails the load with OutOfMemoryError
// naming the budget; a Q4_0 model with a self:q4_0 draft fails it with SelfDraftUnhelpfulError.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { EngineServer } from '../../src/host/engine/server';
import type { EngineEvent, EngineRequest, KvPoolInfo } from '../../src/host/engine/protocol';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';

const opts: CompletionOptions = { maxTokens: 24, multiline: 'always', temperature: 0 };
const req = (prefix: string): CompletionRequest => ({ documentId: 'story', prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });

/** Sends `m` and resolves with the server's final event for its id (the server answers every request once). */
function ask(server: EngineServer, events: EngineEvent[], m: EngineRequest): Promise<EngineEvent> {
  const seen = events.length;
  const id = (m as { id: number }).id;
  return new Promise((resolve) => {
    const poll = () => {
      const e = events.slice(seen).find((x) => 'id' in x && x.id === id && x.type !== 'chunk' && x.type !== 'progress');
      if (e) resolve(e);
      else setImmediate(poll);
    };
    server.handle(m);
    poll();
  });
}

function assertShared(budget: number, target: KvPoolInfo, draft: KvPoolInfo): void {
  assert.ok(target.bytes + draft.bytes <= budget, `target ${target.bytes} + draft ${draft.bytes} bytes > budget ${budget}`);
  assert.ok(draft.blocks >= 1 && Math.abs(target.blocks - draft.blocks) <= 1, `blocks: target ${target.blocks}, draft ${draft.blocks}`);
}

test('engine host: kvBudgetBytes covers the model and its self:q4_0 draft; completions unchanged; too small a budget and a Q4_0 self draft are typed errors', async () => {
  const events: EngineEvent[] = [];
  const server = new EngineServer((e) => events.push(e));
  try {
    const modelPath = await ensureStories260K('f32');
    const plainLoad = await ask(server, events, { type: 'load', id: 1, params: { modelPath, maxContextTokens: 256 } });
    assert.equal(plainLoad.type, 'loaded', JSON.stringify(plainLoad));
    const plain = await ask(server, events, { type: 'complete', id: 2, request: req('Once upon a time, there was a little'), options: opts });
    assert.ok(plain.type === 'completed' && plain.result.rawText.length > 0, JSON.stringify(plain));

    // Under one context (256 tokens) per model: an equal split.
    const budget = 300 * 1024;
    const loaded = await ask(server, events, { type: 'load', id: 3, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: budget, draftModelPath: 'self:q4_0' } });
    assert.ok(loaded.type === 'loaded' && loaded.info.kv && loaded.info.draft?.kv, JSON.stringify(loaded));
    assertShared(budget, loaded.info.kv, loaded.info.draft.kv);
    assert.ok(loaded.info.draft.kv.tokens < 256, 'the budget was meant to be under a context each');
    assert.equal(loaded.info.draft.name, `${loaded.info.name} itself at Q4_0`);
    assert.ok(loaded.info.draft.weightBytes < loaded.info.weightBytes / 4, `self:q4_0 weights ${loaded.info.draft.weightBytes} of ${loaded.info.weightBytes}`);
    const spec = await ask(server, events, { type: 'complete', id: 4, request: req('Once upon a time, there was a little'), options: { ...opts, draft: 'model' } });
    assert.ok(spec.type === 'completed' && plain.type === 'completed', JSON.stringify(spec));
    assert.equal(spec.result.rawText, plain.result.rawText);
    assert.ok((spec.result.timings.speculative?.draftedTokens ?? 0) > 0, JSON.stringify(spec.result.timings));
    const stats = await ask(server, events, { type: 'stats', id: 5 });
    assert.ok(stats.type === 'stats' && stats.stats.kvBlocksTotal === loaded.info.kv.blocks, JSON.stringify(stats));

    const tooSmall = 10 * 1024;
    const refused = await ask(server, events, { type: 'load', id: 6, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: tooSmall, draftModelPath: 'self:q8_0' } });
    assert.ok(refused.type === 'error' && refused.error.code === 'OUT_OF_MEMORY' && refused.error.message.includes(`KV budget of ${tooSmall} bytes`), JSON.stringify(refused));

    const q4 = await ask(server, events, { type: 'load', id: 7, params: { modelPath: await ensureStories260K('q4_0'), maxContextTokens: 256, draftModelPath: 'self' } });
    assert.ok(q4.type === 'error' && q4.error.name === 'SelfDraftUnhelpfulError' && /already Q4_0-sized/.test(q4.error.message), JSON.stringify(q4));
  } finally {
    server.disposeAll();
  }
});

function tandem(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('tandem complete --kv-budget-mib with --draft self:q8_0 or a draft GGUF: both pools within the budget, the plain tokens', async () => {
  const model = await ensureStories260K('f32');
  const args = ['complete', '--model', model, '--prompt-tokens', '1', '--max-tokens', '32', '--no-stop', '--json'];
  const plain = tandem(...args);
  assert.equal(plain.status, 0, plain.stderr);
  const mib = 0.25;
  for (const draft of ['self:q8_0', await ensureStories260K('q8_0'), 'self:q4_0+ngram']) {
    const r = tandem(...args, '--draft', draft, '--draft-length', '4', '--kv-budget-mib', String(mib));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tokens, JSON.parse(plain.stdout).tokens, draft);
    assertShared(mib * 2 ** 20, out.kvPools.target, out.kvPools.draft);
    assert.ok(out.speculative.draftedTokens > 0, draft);
  }
  // A budget without a block for each: exit 5 (out of memory), the budget named.
  const r = tandem(...args, '--draft', 'self:q4_0', '--kv-budget-mib', '0.01');
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /KV budget of 10485 bytes/);
});
