// Smoke run of the ghost-latency benchmark (bench/ghost-latency.ts) in a real editor: a few keystroke
// pauses per cache mode, so CI sees that the driver, the extension's trace and the summary still work.
// Set TANDEM_GHOST_LATENCY_PAUSES to run more pauses here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runGhostLatency } from './ghostLatency';
import { split } from './latencyStats';

const PAUSES = Number(process.env.TANDEM_GHOST_LATENCY_PAUSES ?? 5);

test(`ghost-latency smoke: ${PAUSES} keystroke pauses with the prompt cache on, then off`, { timeout: 300_000 }, async () => {
  const run = await runGhostLatency({ pauses: PAUSES, warmup: 1, log: (m) => console.log(m) });
  for (const l of run.lines) console.log(JSON.stringify(l));
  for (const mode of ['on', 'off'] as const) {
    const mine = run.results.filter((r) => r.mode === mode);
    assert.equal(mine.length, PAUSES, `every ${mode} pause is accounted for`);
    const shown = mine.filter((r) => r.outcome === 'shown');
    assert.ok(shown.length > 0, `ghost text from the model appeared after at least one pause with the cache ${mode}: ${JSON.stringify(mine.map((r) => r.outcome))}`);
    for (const r of shown) {
      const s = split(r)!;
      const parts = s.editor + s.debounce + s.queue + s.tokenize + s.prefill + s.generation + s.other + s.render;
      assert.ok(Math.abs(parts - s.total) < 3, `the parts add up to the total: ${JSON.stringify(s)}`);
      assert.ok(s.render >= -1 && s.editor >= -1 && s.prefill > 0, `no negative part: ${JSON.stringify(s)}`);
    }
  }
  const modelRequests = run.requests.filter((q) => q.timings && q.stoppedBy !== 'cancelled');
  const off = modelRequests.filter((q) => !q.promptCache);
  const on = modelRequests.filter((q) => q.promptCache);
  assert.ok(off.length > 0 && off.every((q) => q.timings!.reusedTokens === undefined), 'with tandem.promptCache off no request reuses cached K/V');
  assert.ok(on.some((q) => (q.timings!.reusedTokens ?? 0) > 0), 'with tandem.promptCache on requests reuse the document\'s K/V');
  const paired = run.lines.find((l) => l.name === 'ghost_latency_paired');
  assert.ok(paired && paired.n === paired.samePromptTokens, `the reverted file gives both modes the same prompts: ${JSON.stringify(paired)}`);
  const names = run.lines.map((l) => `${l.name}:${l.part ?? ''}`);
  assert.ok(names.includes('ghost_latency_ratio:total') && names.includes('ghost_latency_ratio:prefill'), `off/on ratios printed: ${names.join(', ')}`);
});
