// `tandem bench edit-replay --model <gguf>`: replays editing sessions made from real source files in
// node_modules (editReplayTrace.ts) and requests a completion after every pause, in the same run
// (editReplayRun.ts), on the same requests:
//   (a) Tandem with the prefix cache, FIM prompts in SPM and in PSM order (--layouts: spm, psm with the
//       typed middle as the extension sends it, psm-whole without one);
//   (b) Tandem with the cache disabled (every prompt prefilled whole), first layout;
//   (c) llama.cpp (node-llama-cpp, CPU, --llamacpp-threads) reusing its longest common prefix, every layout:
//       a sequence per file; with --switch-every N (the developer switches files every N requests, all
//       modes replay that order) one sequence for all files, as llama-server's one slot;
//   (d) (a) with speculative decoding from n-gram (prompt-lookup) drafts, first layout: the drafts'
//       acceptance on editing sessions, tokens per target pass, and that the completions are unchanged; and
//       the same drafts checked against the text the developer typed next (editReplayNgram.ts);
//   (e) with --draft <gguf|self:q8_0>: (a) with speculative decoding from that draft model, whose K/V is
//       cached per document with a prefix index (ModelDraft), against the same draft keeping one sequence
//       for every document (reused by its longest common prefix only, as before the draft had a cache):
//       the draft's prefilled tokens per request and the request times, first layout, on the replay's
//       first --draft-requests N requests. The draft length is fixed (--draft-length, default 4) so that
//       every request drafts: the automatic length stops drafting where a draft pass costs about a verify
//       pass (lavapipe), and then the draft's cache would not be exercised. --draft-only runs (a) and (e) only.
// Prints one JSON line per figure, and the cache's state after (a) (blocks used/cached/free, hit rates,
// tokens reused vs prefilled); --json adds one line per request. --requests N replays the first N requests
// of each session, to bound a run; --no-cache-requests N runs (b) on the replay's first N requests only.

import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel, readModelConfig } from '../model/load';
import { kvBytesPerToken, resolveKvType } from '../kvcache/kvBuffers';
import { kvTypeOf } from './kvTypeFlag';
import { resolveModel } from '../models/catalog';
import { createTokenizer } from '../tokenizer';
import type { CacheStats } from '../engine/session';
import { buildEditTrace, MAX_PROMPT_GROWTH, REPLAY_LAYOUTS, type EditTrace, type FimTokenIds, type ReplayLayout } from './editReplayTrace';
import { ngramAgainstTypedText } from './editReplayNgram';
import { llamaCppMode, promptsOf, replayLlamaCpp, replayOrder, replayTandem, tandemMode, type ReplayPrompts, type RequestRecord } from './editReplayRun';
import { median } from '../bench/stats';
import { ModelDraft } from '../engine/draft';
import { DRAFT_MIN_CONFIDENCE, loadDraftFrom, parseDraftModelSource } from '../engine/draftLoad';

/** Real source files typed back in (not ours: from installed packages). */
const DEFAULT_FILES = ['node_modules/lru-cache/dist/esm/index.js', 'node_modules/esbuild/lib/main.js'];

const round = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x * 10) / 10 : Math.round(x * 1000) / 1000);
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

function emit(f: Record<string, unknown> & { name: string; value: number; unit: string }): void {
  process.stdout.write(JSON.stringify({ ...f, value: round(f.value) }) + '\n');
}

/** `--kv-budget-mib`: the KV pool's size in bytes, or undefined for the default. */
export function kvBudgetBytesOf(mib: string | undefined): number | undefined {
  if (mib === undefined) return undefined;
  const x = Number(mib);
  if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--kv-budget-mib: expected a positive number of MiB, got "${mib}"`);
  return Math.floor(x * 1024 * 1024);
}

export async function editReplayCommand(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, files: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'max-tokens': { type: 'string' },
      'typed-chars': { type: 'string' }, requests: { type: 'string' }, 'no-llamacpp': { type: 'boolean' }, 'llamacpp-threads': { type: 'string' },
      json: { type: 'boolean' }, 'block-size': { type: 'string' }, layouts: { type: 'string' }, 'kv-budget-mib': { type: 'string' },
      'switch-every': { type: 'string' }, 'kv-type': { type: 'string' }, 'no-cache-requests': { type: 'string' },
      draft: { type: 'string' }, 'draft-requests': { type: 'string' }, 'suffix-share': { type: 'string' }, 'draft-length': { type: 'string' }, 'draft-only': { type: 'boolean' },
    },
  });
  if (!v.model) throw new UsageError('bench edit-replay needs --model <gguf>');
  const maxTokens = Number(v['max-tokens'] ?? 8);
  const files = (v.files ? v.files.split(',') : DEFAULT_FILES).map((f) => resolve(f)).filter((f) => existsSync(f));
  if (!files.length) throw new UsageError('no source file to replay: pass --files a.js,b.ts (e.g. from node_modules)');
  const layouts = (v.layouts ?? 'spm,psm').split(',') as ReplayLayout[];
  if (!layouts.length || layouts.some((l) => !REPLAY_LAYOUTS.includes(l))) throw new UsageError(`--layouts: some of ${REPLAY_LAYOUTS.join(', ')}, got "${v.layouts}"`);
  const requestsPerSession = v.requests === undefined ? Infinity : Number(v.requests);
  const switchEvery = Number(v['switch-every'] ?? 0);
  if (!(switchEvery >= 0) || !Number.isInteger(switchEvery)) throw new UsageError(`--switch-every: expected a count of requests >= 0, got "${v['switch-every']}"`);
  if (!(requestsPerSession >= 1)) throw new UsageError(`--requests: expected a count >= 1, got "${v.requests}"`);
  const noCacheRequests = v['no-cache-requests'] === undefined ? Infinity : Number(v['no-cache-requests']);
  // The suffix window's size as a share of the prompt target (the prefix's is 0.75).
  const suffixShare = Number(v['suffix-share'] ?? 0.25);
  if (!(suffixShare >= 0 && suffixShare <= 0.25)) throw new UsageError(`--suffix-share: expected 0..0.25, got "${v['suffix-share']}"`);
  const draftRequests = v['draft-requests'] === undefined ? Infinity : Number(v['draft-requests']);
  if (!(draftRequests >= 1)) throw new UsageError(`--draft-requests: expected a count >= 1, got "${v['draft-requests']}"`);
  const draftLength = v['draft-length'] === 'auto' ? 'auto' : Number(v['draft-length'] ?? 4);
  if (draftLength !== 'auto' && !(Number.isInteger(draftLength) && draftLength >= 1)) throw new UsageError(`--draft-length: expected auto or a count >= 1, got "${v['draft-length']}"`);
  if (!(noCacheRequests >= 1)) throw new UsageError(`--no-cache-requests: expected a count >= 1, got "${v['no-cache-requests']}"`);
  // llama.cpp's threads spin while waiting: on a machine shared with other work, leave a core free.
  const llamaThreads = Number(v['llamacpp-threads'] ?? Math.max(1, cpus().length - 1));
  const modelPath = await resolveModel(v.model, (s) => process.stderr.write(`tandem: ${s}\n`));
  const gpu = await Gpu.acquire();
  try {
    // Prompts of ~1,500 tokens, fewer when the model's context is shorter; windows may grow (MAX_PROMPT_GROWTH).
    const { config: c } = await readModelConfig(modelPath);
    const contextLength = c.contextLength;
    const promptTokens = Math.min(Number(v['prompt-tokens'] ?? 1500), Math.floor((contextLength - maxTokens - 16) / MAX_PROMPT_GROWTH));
    const maxContextTokens = Math.min(contextLength, Math.ceil(promptTokens * MAX_PROMPT_GROWTH) + maxTokens + 16);
    const blockSize = Number(v['block-size'] ?? 16);
    const kvType = resolveKvType(gpu.device, kvTypeOf(v['kv-type']));
    const perTokenBytes = kvBytesPerToken({ ...c, blockSize, kvType });
    // Default pool: room for four full contexts (the document, what the jump leaves behind, cached history).
    const kvBudgetBytes = kvBudgetBytesOf(v['kv-budget-mib']) ?? 4 * maxContextTokens * perTokenBytes;
    const { model, file } = await loadModel(gpu, modelPath, { maxContextTokens, blockSize, kvBudgetBytes, kvType });
    try {
      const tokenizer = createTokenizer(file.metadata);
      const encode = (s: string): number[] => tokenizer.encode(s, { parseSpecial: false });
      // Models without FIM tokens (stories260K, synthetic vocabularies) get stand-in control ids: the
      // token counts and timings do not depend on which ids these are.
      const fim: FimTokenIds = tokenizer.fim ?? { prefix: 0, suffix: 2, middle: 0 };
      const bos = tokenizer.addBosDefault ? tokenizer.bosId : undefined;
      // The extension's windows in tokens: a prefix budget of 3/4 of the prompt, the suffix's of --suffix-share.
      const windowing = { budgets: { prefixTokens: Math.floor(0.75 * promptTokens), suffixTokens: Math.floor(suffixShare * promptTokens) }, count: (s: string) => encode(s).length };
      const traces = files.map((f): EditTrace => {
        const t = buildEditTrace(f, Number(v['typed-chars'] ?? 400), windowing);
        return { ...t, requests: t.requests.slice(0, requestsPerSession), windows: t.windows.slice(0, requestsPerSession) };
      });
      const common = {
        model: v.model, promptTokensTarget: promptTokens, suffixShare, maxTokens, blockSize, kvBudgetMiB: round(kvBudgetBytes / 2 ** 20), kvBlocks: model.kv.nBlocks, kvType,
        adapter: gpu.adapter.description, files: files.map((f) => f.replace(/.*node_modules\//, '')),
      };
      emit({ name: 'edit replay config', value: sum(traces.map((t) => t.requests.length)), unit: 'requests', ...common });
      const prompts = (layout: ReplayLayout): ReplayPrompts => ({ layout, encode, fim, bos, maxTokens });
      // --switch-every N: every mode replays the sessions interleaved, and (c) keeps one slot for all files.
      const order = replayOrder(traces, switchEvery);
      const interleaved = switchEvery > 0 ? order : undefined;

      const records: RequestRecord[] = [];
      for (const layout of layouts) {
        const a = await replayTandem(model, traces, prompts(layout), true, undefined, order);
        records.push(...a.records);
        reportCacheStats(a.stats, `tandem cache ${layout}`);
        reportCache(records, layout, common);
      }
      const full = !(v['draft-only'] && v.draft);
      const d = full ? await replayTandem(model, traces, prompts(layouts[0]), true, 'ngram', order) : undefined;
      if (d) records.push(...d.records);
      if (d) reportNgram(records, layouts[0]);
      // The oracle figures below share the first layout's prompts (tokenized once).
      const oraclePrompts = full ? traces.map((t) => promptsOf(t, prompts(layouts[0]))) : [];
      for (const k of full ? [4, 8] : []) {
        const o = ngramAgainstTypedText(traces, oraclePrompts, encode, k);
        emit({ name: `n-gram draft acceptance against the text typed next, k=${k}`, value: o.draftedTokens ? o.acceptedTokens / o.draftedTokens : 0, unit: 'fraction', layout: layouts[0], ...o, note: 'drafts from the prompt checked against what the developer typed next (a target writing exactly that), not against the model' });
        emit({ name: `tokens per target pass against the text typed next, k=${k}`, value: o.passes ? o.tokens / o.passes : 0, unit: 'tokens', layout: layouts[0], note: '1 = no gain; the ideal speedup before draft and verify costs' });
      }
      // The same drafts also searching the text deleted so far in the session (the engine's RecentDeletions).
      if (full) {
        const o = ngramAgainstTypedText(traces, oraclePrompts, encode, 8, 32, 1, true);
        emit({ name: 'tokens per target pass against the text typed next, k=8, with deleted text', value: o.passes ? o.tokens / o.passes : 0, unit: 'tokens', layout: layouts[0], ...o, note: 'the traces delete typos only (backspace), so this should match the k=8 figure above' });
      }
      // Tree drafts (several n-gram continuations verified in one pass): what they would gain, before
      // building tree attention. Same oracle, k=8.
      for (const branches of full ? [1, 2, 4, 8] : []) {
        const o = ngramAgainstTypedText(traces, oraclePrompts, encode, 8, 32, branches);
        emit({ name: `tokens per target pass against the text typed next, k=8, tree of ${branches} n-gram branches`, value: o.passes ? o.tokens / o.passes : 0, unit: 'tokens', layout: layouts[0], branches, verifyPositionsPerPass: round(1 + o.draftedTokens / Math.max(1, o.passes)), ...o });
      }
      if (v.draft) {
        const source = parseDraftModelSource(v.draft);
        // A pool of its own holding as many blocks as the target's (the split a budget gets, draftBudget.ts).
        const draftConfig = source.kind === 'self' ? c : (await readModelConfig(source.path)).config;
        const draftKvBytes = model.kv.nBlocks * blockSize * kvBytesPerToken({ ...draftConfig, blockSize, kvType });
        const loaded = await loadDraftFrom(gpu, model, file, modelPath, source, { kvBudgetBytes: draftKvBytes });
        try {
          const draftOrder = order.slice(0, draftRequests);
          const cached = loaded.draft;
          const oneSequence = new ModelDraft(loaded.model, { mapping: cached.mapping, minConfidence: DRAFT_MIN_CONFIDENCE, prefixCache: false });
          for (const [label, source] of [[DRAFT_CACHED, cached], [DRAFT_ONE_SEQUENCE, oneSequence]] as const) {
            const e = await replayTandem(model, traces, prompts(layouts[0]), true, { label, source, draftLength }, draftOrder);
            records.push(...e.records);
            source.clear();
          }
          reportDraftCache(records, layouts[0], v.draft, draftLength);
        } finally {
          loaded.model.dispose();
        }
      }
      // (b) prefills every prompt whole: --no-cache-requests N bounds it to the replay's first N requests
      // (the comparison with (a) pairs the same requests).
      const b = full ? await replayTandem(model, traces, prompts(layouts[0]), false, undefined, order.slice(0, noCacheRequests)) : undefined;
      if (b) records.push(...b.records);
      if (b) reportNoCache(records, layouts[0]);
      // (c) in every layout: llama.cpp's longest-common-prefix reuse depends on the order as much as ours.
      for (const layout of v['no-llamacpp'] || !full ? [] : layouts) {
        let cRun: Awaited<ReturnType<typeof replayLlamaCpp>> | undefined;
        try {
          cRun = await replayLlamaCpp(modelPath, maxContextTokens, traces, prompts(layout), llamaThreads, interleaved);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          process.stderr.write(`tandem: ${e.message}; skipping the llama.cpp baseline\n`);
          break;
        }
        records.push(...cRun.records);
        reportLlamaCpp(records, layout, cRun.label, interleaved !== undefined, switchEvery);
      }
      if (v.json) for (const r of records) process.stdout.write(JSON.stringify({ name: 'request', ...r, tokens: undefined, ttftMs: round(r.ttftMs), totalMs: round(r.totalMs) }) + '\n');
    } finally {
      model.dispose();
    }
  } finally {
    gpu.dispose();
  }
}

const DRAFT_CACHED = 'draft';
const DRAFT_ONE_SEQUENCE = 'draft one sequence';

/** (e): the draft model with its prefix cache against one draft sequence for every document, same requests. */
function reportDraftCache(records: RequestRecord[], layout: string, draft: string, draftLength: number | 'auto'): void {
  const byMode = (label?: string) => new Map(records.filter((r) => r.mode === tandemMode(layout, true, label) && r.i > 0).map((r) => [`${r.file}#${r.i}`, r]));
  const cached = byMode(DRAFT_CACHED);
  const one = byMode(DRAFT_ONE_SEQUENCE);
  const plain = byMode();
  const triples = [...cached].flatMap(([k, e]) => { const f = one.get(k); const a = plain.get(k); return f && a ? [{ e, f, a }] : []; });
  if (!triples.length) return;
  const prefilled = (r: RequestRecord) => r.speculative?.draftPrefilledTokens ?? 0;
  const n = triples.length;
  const [pe, pf] = [sum(triples.map((t) => prefilled(t.e))), sum(triples.map((t) => prefilled(t.f)))];
  const common = { layout, draft, draftLength, requests: n, note: 'the draft model\'s own prefill: committed tokens it ran before drafting; each session\'s first (cold) request excluded' };
  emit({ name: 'draft model prefilled tokens per request, mean, prefix cache', value: pe / n, unit: 'tokens', mode: tandemMode(layout, true, DRAFT_CACHED), ...common });
  emit({ name: 'draft model prefilled tokens per request, mean, one sequence', value: pf / n, unit: 'tokens', mode: tandemMode(layout, true, DRAFT_ONE_SEQUENCE), ...common });
  emit({ name: 'draft model prefilled tokens per request, mean, one sequence / prefix cache', value: pf / Math.max(1, pe), unit: 'ratio', ...common, cachedTokens: pe, oneSequenceTokens: pf });
  emit({ name: 'draft model prefilled tokens per request, median, prefix cache', value: median(triples.map((t) => prefilled(t.e))), unit: 'tokens', ...common });
  const [te, tf, ta] = [median(triples.map((t) => t.e.totalMs)), median(triples.map((t) => t.f.totalMs)), median(triples.map((t) => t.a.totalMs))];
  emit({ name: 'request time, median, draft one sequence / draft prefix cache', value: tf / te, unit: 'ratio', layout, draft, requests: n, cachedMs: round(te), oneSequenceMs: round(tf) });
  const mean = (xs: number[]) => sum(xs) / xs.length;
  emit({ name: 'request time, mean, draft one sequence / draft prefix cache', value: mean(triples.map((t) => t.f.totalMs)) / mean(triples.map((t) => t.e.totalMs)), unit: 'ratio', layout, draft, requests: n, note: 'the mean carries the file switches, where one sequence re-runs the draft\'s whole prompt' });
  emit({ name: 'request time, median, draft prefix cache / plain decoding', value: te / ta, unit: 'ratio', layout, draft, requests: n, plainMs: round(ta) });
  const same = (x: RequestRecord, y: RequestRecord) => x.tokens.join() === y.tokens.join();
  emit({ name: 'greedy completions identical with the draft model and without', value: triples.filter((t) => same(t.e, t.a) && same(t.f, t.a)).length / n, unit: 'fraction', layout, draft, requests: n });
  const drafted = sum(triples.map((t) => t.e.speculative?.draftedTokens ?? 0));
  const accepted = sum(triples.map((t) => t.e.speculative?.acceptedTokens ?? 0));
  emit({ name: 'draft model acceptance rate on the edit replay', value: drafted ? accepted / drafted : 0, unit: 'fraction', layout, draft, draftedTokens: drafted, acceptedTokens: accepted });
}

/** (d) against (a) on the same requests: n-gram acceptance, tokens per target pass, same output, time. */
function reportNgram(records: RequestRecord[], layout: string): void {
  const mode = tandemMode(layout, true, 'ngram');
  const spec = records.filter((r) => r.mode === mode);
  const plain = new Map(records.filter((r) => r.mode === tandemMode(layout, true)).map((r) => [`${r.file}#${r.i}`, r]));
  const drafted = sum(spec.map((r) => r.speculative?.draftedTokens ?? 0));
  const accepted = sum(spec.map((r) => r.speculative?.acceptedTokens ?? 0));
  const passes = sum(spec.map((r) => r.speculative?.targetPasses ?? 0));
  const generated = sum(spec.map((r) => r.tokens.length));
  emit({ name: 'n-gram draft acceptance rate on the edit replay', value: drafted ? accepted / drafted : 0, unit: 'fraction', layout, mode, draftedTokens: drafted, acceptedTokens: accepted, requests: spec.length });
  emit({ name: 'tokens per target pass with n-gram drafts', value: passes ? generated / passes : 0, unit: 'tokens', layout, mode, targetPasses: passes, generatedTokens: generated, note: '1 = no gain over plain decoding' });
  const pairs = spec.flatMap((r) => { const a = plain.get(`${r.file}#${r.i}`); return a ? [[a, r] as const] : []; });
  const same = pairs.filter(([a, r]) => a.tokens.length === r.tokens.length && a.tokens.every((t, i) => t === r.tokens[i])).length;
  emit({ name: 'greedy completions identical with and without n-gram drafts', value: pairs.length ? same / pairs.length : 0, unit: 'fraction', layout, requests: pairs.length });
  const tA = median(pairs.map(([a]) => a.totalMs));
  const tD = median(pairs.map(([, r]) => r.totalMs));
  emit({ name: 'request time, median, n-gram drafts / plain decoding', value: tD / tA, unit: 'ratio', layout, mode, vs: tandemMode(layout, true), plainMs: round(tA), ngramMs: round(tD), requests: pairs.length });
}

/** The cache's state after a replay, one figure a line, then the whole stats object. */
function reportCacheStats(s: CacheStats, mode: string): void {
  const p = s.pool;
  emit({ name: 'KV blocks used after the replay', value: p.usedBlocks, unit: 'blocks', mode, of: p.totalBlocks });
  emit({ name: 'KV blocks cached (unreferenced, evictable) after the replay', value: p.cachedBlocks, unit: 'blocks', mode, of: p.totalBlocks });
  emit({ name: 'KV blocks free after the replay', value: p.freeBlocks, unit: 'blocks', mode, of: p.totalBlocks, evictions: p.evictions });
  emit({ name: 'prefix cache token hit rate (reused / prompt tokens)', value: s.tokenHitRate, unit: 'fraction', mode, reusedTokens: s.reusedTokens, prefilledTokens: s.prefilledTokens, promptTokens: s.promptTokens });
  emit({ name: 'prefix index block hit rate', value: s.index.blockLookups ? s.index.blockHits / s.index.blockLookups : 0, unit: 'fraction', mode, ...s.index });
  emit({ name: 'prefix cache stats after the replay', value: s.tokenHitRate, unit: 'token hit rate', mode, ...s });
}

function reportCache(records: RequestRecord[], layout: string, common: Record<string, unknown>): void {
  const mode = `tandem cache ${layout}`;
  const all = records.filter((r) => r.mode === mode && r.i > 0);
  const typed = all.filter((r) => r.edit === 'type');
  const keys = sum(all.map((r) => r.keystrokes));
  emit({ name: 'prefilled tokens per keystroke, median', value: median(typed.map((r) => r.prefilledTokens / Math.max(1, r.keystrokes))), unit: 'tokens', layout, mode, requests: typed.length, ...common });
  emit({ name: 'prefilled tokens per request after typing, median', value: median(typed.map((r) => r.prefilledTokens)), unit: 'tokens', layout, mode });
  emit({ name: 'prefilled tokens per keystroke, whole session', value: sum(all.map((r) => r.prefilledTokens)) / Math.max(1, keys), unit: 'tokens', layout, mode, keystrokes: keys, note: 'jumps, accepts and backspaces included; the first request (cold) excluded' });
  emit({ name: 'prompt tokens per request, median', value: median(all.map((r) => r.promptTokens)), unit: 'tokens', layout, mode });
  emit({ name: 'prefilled tokens, sum, by edit', value: sum(all.map((r) => r.prefilledTokens)), unit: 'tokens', layout, mode, byEdit: prefilledByEdit(all), note: 'the first request (cold) excluded' });
}

/** Prefilled tokens summed per kind of edit (type, backspace, jump, accept): where a mode's prefill goes. */
function prefilledByEdit(records: RequestRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[r.edit] = (out[r.edit] ?? 0) + r.prefilledTokens;
  return out;
}

/** (a) against (b) on exactly the same requests: every request of every session but the first (cold). */
function reportNoCache(records: RequestRecord[], layout: string): void {
  const ours = records.filter((r) => r.mode === `tandem cache ${layout}` && r.i > 0);
  const base = records.filter((r) => r.mode === `tandem no cache ${layout}` && r.i > 0);
  if (!base.length) return;
  const key = (r: RequestRecord) => `${r.file}#${r.i}`;
  const oursBy = new Map(ours.map((r) => [key(r), r]));
  const pairs = base.map((b) => ({ b, a: oursBy.get(key(b))! }));
  for (const [subset, ps] of [['after typing', pairs.filter((p) => p.b.edit === 'type')], ['all edits', pairs]] as const) {
    const tA = median(ps.map((p) => p.a.ttftMs));
    const tB = median(ps.map((p) => p.b.ttftMs));
    emit({ name: `time to first token, ${subset}, median, cache`, value: tA, unit: 'ms', mode: `tandem cache ${layout}`, requests: ps.length });
    emit({ name: `time to first token, ${subset}, median, cache disabled`, value: tB, unit: 'ms', mode: `tandem no cache ${layout}`, requests: ps.length, note: 'the same requests as the cache figure' });
    emit({ name: `time to first token, ${subset}, median, cache disabled / cache`, value: tB / tA, unit: 'ratio', vs: `tandem no cache ${layout}`, requests: ps.length });
  }
  const same = pairs.filter((p) => p.a.tokens.join() === p.b.tokens.join()).length;
  emit({ name: 'greedy completions identical with and without the cache', value: same / pairs.length, unit: 'fraction', requests: pairs.length });
}

/** (a) against (c) on the same requests. */
function reportLlamaCpp(records: RequestRecord[], layout: string, label: string, oneSlot: boolean, switchEvery: number): void {
  const ours = records.filter((r) => r.mode === `tandem cache ${layout}` && r.i > 0);
  const theirs = records.filter((r) => r.mode === llamaCppMode(layout, oneSlot) && r.i > 0);
  if (!theirs.length) return;
  const mode = theirs[0].mode;
  const mOurs = median(ours.map((r) => r.prefilledTokens));
  const mTheirs = median(theirs.map((r) => r.prefilledTokens));
  emit({ name: 'prefilled tokens per request, median, tandem cache', value: mOurs, unit: 'tokens', mode: ours[0]?.mode, requests: ours.length });
  emit({ name: 'prefilled tokens per request, median, llama.cpp adaptStateToTokens', value: mTheirs, unit: 'tokens', mode, llamacpp: label, requests: theirs.length });
  emit({ name: 'prefilled tokens, sum, by edit', value: sum(theirs.map((r) => r.prefilledTokens)), unit: 'tokens', layout, mode, byEdit: prefilledByEdit(theirs), note: 'the first request (cold) excluded' });
  const sOurs = sum(ours.map((r) => r.prefilledTokens));
  const sTheirs = sum(theirs.map((r) => r.prefilledTokens));
  emit({ name: 'prefilled tokens per request, mean, llama.cpp / tandem', value: sTheirs / Math.max(1, sOurs), unit: 'ratio', vs: mode, layout, switchEvery, tandemTokens: sOurs, llamacppTokens: sTheirs, requests: theirs.length, note: oneSlot ? `one llama.cpp slot for all files (llama-server), a file switch every ${switchEvery} requests; each session's first (cold) request excluded` : 'a llama.cpp sequence per file, sessions one after another; first (cold) request excluded' });
  emit({ name: 'time to first token after typing, median, llama.cpp', value: median(theirs.filter((r) => r.edit === 'type').map((r) => r.ttftMs)), unit: 'ms', mode, llamacpp: label });
  const oursBy = new Map(ours.map((r) => [`${r.file}#${r.i}`, r]));
  const same = theirs.filter((r) => oursBy.get(`${r.file}#${r.i}`)?.tokens.join() === r.tokens.join()).length;
  emit({ name: 'greedy completions identical to llama.cpp', value: same / theirs.length, unit: 'fraction', layout, requests: theirs.length, note: 'differs where two logits tie within float error' });
}
