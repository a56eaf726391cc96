// `tandem bench edit-replay --model <gguf>`: replays editing sessions made from real source files in
// node_modules (editReplayTrace.ts) and requests a completion after every pause, in the same run:
//   (a) Tandem with the prefix cache, FIM prompts in SPM and in PSM order;
//   (b) Tandem with the cache disabled (every prompt prefilled whole), on a sample of the requests;
//   (c) llama.cpp (node-llama-cpp) reusing its longest common prefix (adaptStateToTokens), same prompts.
// Prints one JSON line per figure; --json adds one line per request.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel, readModelConfig } from '../model/load';
import type { LlamaModel } from '../model/llama';
import { resolveModel } from '../models/catalog';
import { createTokenizer } from '../tokenizer';
import { DocumentCache } from '../engine/session';
import { buildEditTrace, fimPrompt, type EditTrace, type FimTokenIds } from './editReplayTrace';

/** Real source files typed back in (not ours: from installed packages). */
const DEFAULT_FILES = ['node_modules/lru-cache/dist/esm/index.js', 'node_modules/esbuild/lib/main.js'];

interface RequestRecord {
  mode: string;
  file: string;
  i: number;
  edit: string;
  keystrokes: number;
  promptTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  ttftMs: number;
  totalMs: number;
  tokens: number[];
}

const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
const round = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x * 10) / 10 : Math.round(x * 1000) / 1000);

function emit(f: Record<string, unknown> & { name: string; value: number; unit: string }): void {
  process.stdout.write(JSON.stringify({ ...f, value: round(f.value) }) + '\n');
}

export async function editReplayCommand(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, files: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'max-tokens': { type: 'string' },
      'typed-chars': { type: 'string' }, 'baseline-requests': { type: 'string' }, 'no-llamacpp': { type: 'boolean' }, json: { type: 'boolean' },
      'block-size': { type: 'string' }, layouts: { type: 'string' },
    },
  });
  if (!v.model) throw new UsageError('bench edit-replay needs --model <gguf>');
  const maxTokens = Number(v['max-tokens'] ?? 8);
  const files = (v.files ? v.files.split(',') : DEFAULT_FILES).map((f) => resolve(f)).filter((f) => existsSync(f));
  if (!files.length) throw new UsageError('no source file to replay: pass --files a.js,b.ts (e.g. from node_modules)');
  const layouts = (v.layouts ?? 'spm,psm').split(',') as ('spm' | 'psm')[];
  const modelPath = await resolveModel(v.model, (s) => process.stderr.write(`tandem: ${s}\n`));
  const gpu = await Gpu.acquire();
  try {
    // Prompts of ~1,500 tokens, fewer when the model's context is shorter; windows may grow to 1.5x.
    const { config: c } = await readModelConfig(modelPath);
    const contextLength = c.contextLength;
    const promptTokens = Math.min(Number(v['prompt-tokens'] ?? 1500), Math.floor((contextLength - maxTokens - 16) / 1.5));
    const maxContextTokens = Math.min(contextLength, Math.ceil(promptTokens * 1.5) + maxTokens + 16);
    const perTokenBytes = 2 * c.nLayers * c.nKvHeads * c.headDim * 4;
    const blockSize = Number(v['block-size'] ?? 16);
    // Room for four full contexts: the document, what the jump leaves behind, and cached history.
    const { model, file } = await loadModel(gpu, modelPath, { maxContextTokens, blockSize, kvBudgetBytes: 4 * maxContextTokens * perTokenBytes });
    try {
      const tokenizer = createTokenizer(file.metadata);
      const encode = (s: string): number[] => tokenizer.encode(s, { parseSpecial: false });
      // Models without FIM tokens (stories260K, synthetic vocabularies) get stand-in control ids: the
      // token counts and timings do not depend on which ids these are.
      const fim: FimTokenIds = tokenizer.fim ?? { prefix: 0, suffix: 2, middle: 0 };
      const bos = tokenizer.addBosDefault ? tokenizer.bosId : undefined;
      const traces = files.map((f) => {
        const sample = encode(readFileSync(f, 'utf8').slice(0, 20000));
        const charsPerToken = 20000 / Math.max(1, sample.length);
        return buildEditTrace(f, Number(v['typed-chars'] ?? 400), { prefix: 0.75 * promptTokens * charsPerToken, suffix: 0.25 * promptTokens * charsPerToken });
      });
      const common = { model: v.model, promptTokensTarget: promptTokens, maxTokens, blockSize, adapter: gpu.adapter.description, files: files.map((f) => f.replace(/.*node_modules\//, '')) };
      emit({ name: 'edit replay config', value: traces.reduce((s, t) => s + t.requests.length, 0), unit: 'requests', ...common });

      const records: RequestRecord[] = [];
      for (const layout of layouts) {
        records.push(...await replayTandem(model, traces, layout, encode, fim, bos, maxTokens, true, () => true));
        reportCache(records, layout, common);
      }
      // (b) on a sample of requests after typing (every k-th), in the first layout.
      const typed = (t: EditTrace) => t.requests.map((r, i) => ({ r, i })).filter(({ r, i }) => i > 0 && r.edit === 'type');
      const nTyped = traces.reduce((s, t) => s + typed(t).length, 0);
      const every = Math.max(1, Math.ceil(nTyped / Number(v['baseline-requests'] ?? 12)));
      records.push(...await replayTandem(model, traces, layouts[0], encode, fim, bos, maxTokens, false, (i, t) => i > 0 && t.requests[i].edit === 'type' && i % every === 0));
      reportNoCache(records, layouts[0]);
      if (!v['no-llamacpp']) {
        records.push(...await replayLlamaCpp(modelPath, maxContextTokens, traces, layouts[0], encode, fim, bos, maxTokens));
        reportLlamaCpp(records, layouts[0]);
      }
      if (v.json) for (const r of records) process.stdout.write(JSON.stringify({ name: 'request', ...r, tokens: undefined, ttftMs: round(r.ttftMs), totalMs: round(r.totalMs) }) + '\n');
    } finally {
      model.dispose();
    }
  } finally {
    gpu.dispose();
  }
}

async function replayTandem(model: LlamaModel, traces: EditTrace[], layout: 'spm' | 'psm', encode: (s: string) => number[], fim: FimTokenIds, bos: number | undefined,
  maxTokens: number, enabled: boolean, include: (i: number, t: EditTrace) => boolean): Promise<RequestRecord[]> {
  const dc = new DocumentCache(model, { enabled });
  const mode = `tandem ${enabled ? 'cache' : 'no cache'} ${layout}`;
  const out: RequestRecord[] = [];
  try {
    for (const t of traces) {
      for (let i = 0; i < t.requests.length; i++) {
        if (!include(i, t)) continue;
        const r = t.requests[i];
        const prompt = fimPrompt(r, t.windows[i], layout, encode, fim, bos);
        const c = await dc.complete(t.file, prompt, { maxTokens });
        out.push({ mode, file: t.file, i, edit: r.edit, keystrokes: r.keystrokes, promptTokens: prompt.length, reusedTokens: c.reusedTokens, prefilledTokens: c.prefilledTokens, ttftMs: c.ttftMs, totalMs: c.totalMs, tokens: c.tokens });
      }
    }
    if (enabled) {
      const s = dc.stats();
      emit({ name: 'prefix cache stats after the replay', value: s.tokenHitRate, unit: 'token hit rate', mode, ...s });
    }
  } finally {
    dc.dispose();
  }
  return out;
}

async function replayLlamaCpp(modelPath: string, contextSize: number, traces: EditTrace[], layout: 'spm' | 'psm', encode: (s: string) => number[], fim: FimTokenIds, bos: number | undefined, maxTokens: number): Promise<RequestRecord[]> {
  let mod: typeof import('node-llama-cpp');
  try {
    mod = await import('node-llama-cpp');
  } catch {
    process.stderr.write('tandem: node-llama-cpp is not installed; skipping the llama.cpp baseline\n');
    return [];
  }
  type Token = import('node-llama-cpp').Token;
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error });
  const lm = await llama.loadModel({ modelPath });
  const ctx = await lm.createContext({ contextSize, batchSize: Math.min(512, contextSize), flashAttention: false });
  const out: RequestRecord[] = [];
  const mode = `llama.cpp adaptStateToTokens ${layout}`;
  try {
    for (const t of traces) {
      // One sequence per document, like one server slot per editor.
      const seq = ctx.getSequence();
      try {
        for (let i = 0; i < t.requests.length; i++) {
          const r = t.requests[i];
          const prompt = fimPrompt(r, t.windows[i], layout, encode, fim, bos) as unknown as Token[];
          const t0 = performance.now();
          await seq.adaptStateToTokens(prompt, false);
          // Its evaluate needs at least the last prompt token to produce the first logits.
          if (seq.contextTokens.length >= prompt.length) await seq.adaptStateToTokens(prompt.slice(0, -1), false);
          const kept = seq.contextTokens.length;
          const tokens: number[] = [];
          let ttftMs = 0;
          for await (const tok of seq.evaluate(prompt.slice(kept), { temperature: 0 })) {
            if (tokens.length === 0) ttftMs = performance.now() - t0;
            tokens.push(tok as unknown as number);
            if (tokens.length >= maxTokens) break;
          }
          out.push({ mode, file: t.file, i, edit: r.edit, keystrokes: r.keystrokes, promptTokens: prompt.length, reusedTokens: kept, prefilledTokens: prompt.length - kept, ttftMs, totalMs: performance.now() - t0, tokens });
        }
      } finally {
        seq.dispose();
      }
    }
  } finally {
    await ctx.dispose();
    await lm.dispose();
    await llama.dispose();
  }
  return out;
}

function reportCache(records: RequestRecord[], layout: string, common: Record<string, unknown>): void {
  const afterTyping = (mode: string) => records.filter((r) => r.mode === mode && r.i > 0 && r.edit === 'type');
  {
    const mode = `tandem cache ${layout}`;
    const typed = afterTyping(mode);
    const all = records.filter((r) => r.mode === mode && r.i > 0);
    const keys = all.reduce((s, r) => s + r.keystrokes, 0);
    emit({ name: 'prefilled tokens per keystroke, median', value: median(typed.map((r) => r.prefilledTokens / Math.max(1, r.keystrokes))), unit: 'tokens', layout, mode, requests: typed.length, ...common });
    emit({ name: 'prefilled tokens per request after typing, median', value: median(typed.map((r) => r.prefilledTokens)), unit: 'tokens', layout, mode, ...common });
    emit({ name: 'prefilled tokens per keystroke, whole session', value: all.reduce((s, r) => s + r.prefilledTokens, 0) / Math.max(1, keys), unit: 'tokens', layout, mode, keystrokes: keys, note: 'jumps, accepts and backspaces included; the first request (cold) excluded' });
    emit({ name: 'prompt tokens per request, median', value: median(all.map((r) => r.promptTokens)), unit: 'tokens', layout, mode });
    emit({ name: 'time to first token after typing, median', value: median(typed.map((r) => r.ttftMs)), unit: 'ms', layout, mode });
  }
}

/** (b): the same requests with and without the cache. */
function reportNoCache(records: RequestRecord[], layout: string): void {
  const first = `tandem cache ${layout}`;
  const base = records.filter((r) => r.mode.startsWith('tandem no cache'));
  if (base.length) {
    const cached = base.map((b) => records.find((r) => r.mode === first && r.file === b.file && r.i === b.i)!);
    const tBase = median(base.map((r) => r.ttftMs));
    const tOurs = median(cached.map((r) => r.ttftMs));
    emit({ name: 'time to first token after typing, median, cache disabled', value: tBase, unit: 'ms', mode: base[0].mode, requests: base.length });
    emit({ name: 'time to first token after typing, cache disabled / cache', value: tBase / tOurs, unit: 'ratio', vs: base[0].mode, cacheMs: round(tOurs), requests: base.length, layout });
    const same = base.filter((b, k) => b.tokens.join() === cached[k].tokens.join()).length;
    emit({ name: 'greedy completions identical with and without the cache', value: same / base.length, unit: 'fraction', requests: base.length });
  }
}

/** (c): llama.cpp on the same prompts. */
function reportLlamaCpp(records: RequestRecord[], layout: string): void {
  const first = `tandem cache ${layout}`;
  const lc = records.filter((r) => r.mode.startsWith('llama.cpp'));
  if (lc.length) {
    const ours = records.filter((r) => r.mode === first && r.i > 0);
    const theirs = lc.filter((r) => r.i > 0);
    const sum = (xs: RequestRecord[]) => xs.reduce((s, r) => s + r.prefilledTokens, 0);
    emit({ name: 'prefilled tokens per request, median, llama.cpp adaptStateToTokens', value: median(theirs.map((r) => r.prefilledTokens)), unit: 'tokens', mode: lc[0].mode });
    emit({ name: 'prefilled tokens, llama.cpp / tandem, whole session', value: sum(theirs) / Math.max(1, sum(ours)), unit: 'ratio', vs: lc[0].mode, tandem: sum(ours), llamacpp: sum(theirs) });
    emit({ name: 'time to first token after typing, median, llama.cpp', value: median(theirs.filter((r) => r.edit === 'type').map((r) => r.ttftMs)), unit: 'ms', mode: lc[0].mode, note: 'llama.cpp CPU backend' });
  }
}
