// Keystroke-to-ghost-text latency in real code-server with the real engine on stories260K (issue 6):
// --pauses keystroke pauses with tandem.promptCache on, then the same seeded script with it off, in one
// run. Prints JSON lines: p50/p95 per part (editor, debounce, queue, tokenize, prefill, generation,
// other, render) and of the total, per cache mode; counts by outcome; off/on ratios of total and prefill;
// pause-by-pause off − on medians (both modes see the same prompts) and the prefill of long prompts.
// Needs the real-editor tools: `eval "$(bash scripts/ext-setup.sh --env)"` first.
//
//   node dist-bench/ghost-latency.js [--pauses 200] [--warmup 3] [--seed 1] [--raw pauses.jsonl] [--trace requests.jsonl]
//
// --raw writes one line per pause (outcome, stamps, its request's trace line); --trace keeps the
// extension's trace (every request, TANDEM_TRACE_FILE).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runGhostLatency } from '../test/extension/ghostLatency';

const { values: v } = parseArgs({ options: { pauses: { type: 'string' }, warmup: { type: 'string' }, seed: { type: 'string' }, raw: { type: 'string' }, trace: { type: 'string' } } });

async function main(): Promise<void> {
  const run = await runGhostLatency({
    pauses: Number(v.pauses ?? 200),
    warmup: Number(v.warmup ?? 3),
    seed: Number(v.seed ?? 1),
    log: (m) => process.stderr.write(`${m}\n`),
    keepTrace: v.trace,
  });
  if (v.raw) writeFileSync(v.raw, run.results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  for (const l of run.lines) console.log(JSON.stringify(l));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
