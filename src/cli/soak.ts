// `tandem bench soak --model <gguf>`: thousands of completion requests from a simulated developer through
// the engine's own request handler (bench/soak.ts), sampling what must not grow. JSON lines: each sample,
// then the growth figures and the problems found. Exit 1 when a problem was found. --reference: the model
// is loaded a second time (no draft, no prompt cache: every prompt prefilled whole) and answers every
// request again with drafting off; the greedy tokens must be the same (requests are then greedy and never
// cancelled).

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NEAR_TIE_P, runSoak, slope, type SoakSample } from '../bench/soak';
import { SOAK_FILES } from '../bench/soakEditor';
import { UsageError } from '../common/errors';
import { resolveModel } from '../models/catalog';
import { kvBudgetBytesOf } from './editReplay';
import { EXIT } from './exitCodes';
import { kvTypeOf } from './kvTypeFlag';


function count(v: string | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!(Number.isInteger(x) && x >= min)) throw new UsageError(`--${name}: expected a whole number >= ${min}, got "${v}"`);
  return x;
}

const mib = (b: number) => Math.round((b / 2 ** 20) * 100) / 100;

export async function benchSoakCommand(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, draft: { type: 'string' }, files: { type: 'string' }, requests: { type: 'string' }, documents: { type: 'string' },
      'warmup-requests': { type: 'string' }, 'sample-every': { type: 'string' }, 'max-tokens': { type: 'string' }, 'prefix-tokens': { type: 'string' },
      context: { type: 'string' }, 'kv-budget-mib': { type: 'string' }, seed: { type: 'string' }, 'timeout-ms': { type: 'string' }, 'heap-growth-limit-mib': { type: 'string' },
      'kv-type': { type: 'string' }, reference: { type: 'boolean' },
    },
  });
  if (!v.model) throw new UsageError('bench soak needs --model <gguf>');
  const files = (v.files ? v.files.split(',') : SOAK_FILES).map((f) => resolve(f)).filter((f) => existsSync(f));
  if (!files.length) throw new UsageError('no source file to edit: pass --files a.js,b.ts (e.g. from node_modules)');
  const modelPath = await resolveModel(v.model, (s) => process.stderr.write(`tandem: ${s}\n`));
  const requests = count(v.requests, 'requests', 2000);
  const maxContextTokens = v.context === undefined ? undefined : count(v.context, 'context', 0, 64);
  const kvType = kvTypeOf(v['kv-type']);
  const r = await runSoak({
    load: { modelPath, draftModelPath: v.draft, maxContextTokens, kvBudgetBytes: kvBudgetBytesOf(v['kv-budget-mib']), kvType },
    reference: v.reference ? { modelPath, maxContextTokens, kvType, promptCache: false } : undefined,
    files,
    documents: count(v.documents, 'documents', 24),
    requests,
    warmupRequests: count(v['warmup-requests'], 'warmup-requests', Math.min(200, Math.floor(requests / 4))),
    sampleEvery: count(v['sample-every'], 'sample-every', Math.max(1, Math.floor(requests / 20))),
    maxTokens: count(v['max-tokens'], 'max-tokens', 8),
    prefixTokens: count(v['prefix-tokens'], 'prefix-tokens', 1024),
    requestTimeoutMs: count(v['timeout-ms'], 'timeout-ms', 60_000),
    heapGrowthLimitBytes: count(v['heap-growth-limit-mib'], 'heap-growth-limit-mib', 8) * 2 ** 20,
    seed: count(v.seed, 'seed', 1, 0),
    onSample: (s: SoakSample) => process.stdout.write(JSON.stringify({ name: 'soak sample', ...s, atMs: Math.round(s.atMs) }) + '\n'),
  });
  const base = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  const emit = (f: Record<string, unknown>) => process.stdout.write(JSON.stringify(f) + '\n');
  const common = { model: r.model.name, adapter: r.model.adapter, draft: r.model.draft?.name ?? null, baselineAt: base.requests, lastAt: last.requests };
  const half = Math.floor(r.samples.length / 2);
  const fit = (xs: SoakSample[]) => Math.round(slope(xs.map((s) => [s.requests, s.heapUsedBytes])) * 1000);
  emit({ name: 'JS heap after GC, growth per 1,000 requests (least-squares fit over the samples)', value: Math.round(r.heapSlopeBytesPerRequest * 1000), unit: 'bytes', firstHalf: fit(r.samples.slice(0, half + 1)), secondHalf: fit(r.samples.slice(half)), ...common });
  emit({ name: 'JS heap after GC, last sample / baseline', value: Math.round((last.heapUsedBytes / base.heapUsedBytes) * 1000) / 1000, unit: 'ratio', baselineMiB: mib(base.heapUsedBytes), lastMiB: mib(last.heapUsedBytes), ...common });
  emit({ name: 'GPU buffers alive, last sample - baseline', value: last.gpuBuffers - base.gpuBuffers, unit: 'buffers', bytes: last.gpuBufferBytes - base.gpuBufferBytes, baseline: base.gpuBuffers, baselineMiB: mib(base.gpuBufferBytes), ...common });
  emit({ name: 'RSS, last sample / baseline', value: Math.round((last.rssBytes / base.rssBytes) * 1000) / 1000, unit: 'ratio', baselineMiB: mib(base.rssBytes), lastMiB: mib(last.rssBytes), ...common });
  emit({ name: 'KV pool at the end', value: last.blocksUsed, unit: 'blocks used', cached: last.blocksCached, free: last.blocksFree, total: last.blocksTotal, evictions: last.evictions, documentsDropped: last.documentsDropped, documents: last.documents });
  emit({ name: 'requests answered', value: Object.values(r.outcomes).reduce((s, x) => s + x, 0), unit: 'requests', outcomes: r.outcomes, actions: r.actions, slowestAnswerMs: Math.round(r.maxAnswerMs), totalS: Math.round(r.totalMs / 100) / 10 });
  if (r.reference) {
    emit({ name: 'completions compared with the reference engine', value: r.reference.compared, unit: 'completions', tokens: r.reference.tokens, nearTies: r.reference.nearTies,
      note: `a difference in the greedy tokens is a problem below, unless the reference's token had p <= ${NEAR_TIE_P} (a near-tie rounding may flip: nearTies)` });
  }
  emit({ name: 'problems', value: r.problems.length, unit: 'count', problems: r.problems });
  return r.problems.length ? EXIT.failure : EXIT.ok;
}
