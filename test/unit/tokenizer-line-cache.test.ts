// The tokenizer's line cache (src/tokenizer/tokenizer.ts, the cut rules in src/tokenizer/pretokenize.ts):
// text encoded as lines, from the cache or not, must give exactly the tokens of the whole text encoded at
// once, for every pre-tokenizer family, on real source files (and their CRLF versions), hand-picked edges
// (blank and whitespace-only lines, CR, Unicode line and paragraph separators, NEL, no-break spaces) and
// random strings over an alphabet of whitespace, letters, digits and punctuation. Qwen2.5's vocabulary and
// merges with each family's pattern list (BPE works inside pre-tokens, so any vocabulary shows a bad cut).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { createTokenizer } from '../../src/tokenizer';
import { forEachLinePiece, lineCutRule } from '../../src/tokenizer/pretokenize';
import { hfTokenizerToGguf, qwen2TokenizerJsonPath } from '../../src/tools/hfTokenizerToGguf';
import { Xoshiro128 } from '../../src/tools/prng';
import { repoRoot } from '../helpers/testModels';

/** tokenizer.ggml.pre values, one per pattern list (and rule): qwen2, llama3, seed-coder, deepseek-coder, deepseek-llm, and three GPT-2 lists. */
const PRES = ['qwen2', 'llama-bpe', 'seed-coder', 'deepseek-coder', 'deepseek-llm', 'default', 'gpt2', 'starcoder'] as const;

function sources(): string[] {
  const files = [
    ['lru-cache/dist/esm/index.js', 0, 30_000],
    ['esbuild/lib/main.js', 10_000, 30_000],
    ['typescript/lib/lib.es5.d.ts', 50_000, 20_000],
    ['esbuild/README.md', 0, 10_000],
    ['esbuild/package.json', 0, 5_000],
  ] as const;
  const texts = files.map(([path, from, n]) => readFileSync(join(repoRoot(), 'node_modules', path), 'utf8').slice(from, from + n));
  return [...texts, ...texts.slice(0, 2).map((t) => t.replaceAll('\n', '\r\n'))];
}

const EDGES = [
  'a\n  \nb', 'a\n\n\nb', 'x \n\ty\n', 'foo\r\n  bar\r\n\r\n  \r\nbaz', '\n\n  x', '  \n  ', 'end\n   ', 'end\n',
  'a\n\u2028b\n\u2029\nc', 'a\n\u0085\nb', 'a\n\u00a0b\n\u00a0\n', '}\n}\n\t}\n', "'s\n're\n'll", '123\n456\n7890',
  'é\n日本\n😀\n😀x', '\n', '\r\n', 'a\r\nb', 'a\n\rb', 'a\n\u000b\nb', 'a\n\f b', '\t\n\t\n\tx',
];

function randomTexts(n: number): string[] {
  const alphabet = [' ', ' ', '\t', '\n', '\n', '\n', '\r', 'a', 'Z', '1', '{', '}', ';', "'", 'é', '\u00a0', '\u2028', '\u0085', '日'];
  const rng = new Xoshiro128(41);
  return Array.from({ length: n }, () => {
    const len = Math.floor(rng.next() * 40);
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
    return s;
  });
}

const meta = (pre: string): Map<string, GgufValue> => new Map(hfTokenizerToGguf(qwen2TokenizerJsonPath(), { pre }).map((e) => [e.key, e.value]));

for (const pre of PRES) {
  test(`${pre} (${lineCutRule(pre)}): lines encoded apart, cached or not, equal the whole text encoded at once`, () => {
    const m = meta(pre);
    const cached = createTokenizer(m);
    const whole = createTokenizer(m, { lineCache: false });
    const code = sources();
    const texts = [...code, ...EDGES, ...randomTexts(3000)];
    for (const text of texts) {
      const want = whole.encode(text, { parseSpecial: false });
      assert.deepEqual(cached.encode(text, { parseSpecial: false }), want, `${pre}: ${JSON.stringify(text.slice(0, 200))}`);
      // Again, now from the cache; and with special-token parsing (the cut applies between specials).
      assert.deepEqual(cached.encode(text, { parseSpecial: false }), want);
      assert.deepEqual(cached.encode(text), whole.encode(text));
    }
    // The rule did cut the source files: about a piece per line, GPT-2's only before lines that start
    // at column 0 (82 pieces in these 7 files).
    let pieces = 0;
    for (const text of code) forEachLinePiece(text, lineCutRule(pre), () => pieces++);
    const perFile = lineCutRule(pre) === 'lone-newline' ? 5 : 100;
    assert.ok(pieces >= perFile * code.length, `${pieces} pieces for ${code.length} files`);
  });
}

test('forEachLinePiece: the pieces join to the text; cuts only after a newline, as each rule allows', () => {
  const cuts = (text: string, rule: Parameters<typeof forEachLinePiece>[1]) => {
    const out: string[] = [];
    forEachLinePiece(text, rule, (s) => out.push(s));
    assert.equal(out.join(''), text);
    return out;
  };
  assert.deepEqual(cuts('a\n  b\n\nc\n', 'any'), ['a\n', '  b\n', '\n', 'c\n']);
  assert.deepEqual(cuts('a\n  b\n  \nc\n', 'unless-blank'), ['a\n', '  b\n  \n', 'c\n']);
  assert.deepEqual(cuts('a\n  b\nc\n\nd\ne \nf', 'lone-newline'), ['a\n  b\n', 'c\n\nd\n', 'e \nf']);
  assert.deepEqual(cuts('', 'any'), ['']);
  assert.deepEqual(cuts('no newline', 'unless-blank'), ['no newline']);
});
