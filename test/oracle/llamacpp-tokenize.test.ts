// Our tokenizer against llama.cpp's llama_tokenize / llama_detokenize on the same GGUF files:
// stories260K (SentencePiece) and a tiny synthetic model carrying Qwen2.5's byte-level BPE vocabulary.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openGguf } from '../../src/loaders/gguf/reader';
import { GgmlType, GgufValueType, type GgufValue } from '../../src/loaders/gguf/types';
import { writeGguf } from '../../src/loaders/gguf/writer';
import { syntheticMetadata, type SyntheticSpec } from '../../src/tools/synthesize';
import { createTokenizer, type Tokenizer } from '../../src/tokenizer';
import { logSoftmax, openLlamaCpp, type LlamaCpp } from '../helpers/llamacpp';
import { cacheDir, ensureStories260K, ensureSynthetic, hasStories260K, repoRoot, rewriteGguf, stories260KGolden, STORIES260K_HELP } from '../helpers/testModels';

/** Real code: 8 KB slices of JavaScript and TypeScript files shipped in node_modules. */
function codeSamples(): string[] {
  const files: [string, number][] = [
    ['@huggingface/tokenizers/dist/tokenizers.mjs', 40_000],
    ['typescript/lib/lib.es5.d.ts', 100_000],
    ['esbuild/lib/main.js', 20_000],
    ['lru-cache/dist/esm/index.js', 5_000],
    ['typescript/lib/lib.dom.d.ts', 300_000],
  ];
  return files.map(([path, from]) => readFileSync(join(repoRoot(), 'node_modules', path), 'utf8').slice(from, from + 8_000));
}

const TRICKY = [
  'def f(x):\r\n\treturn x  # CRLF and a tab\r\n',
  'if (a) {\n' + ' '.repeat(37) + 'b();\n\n\n\t\t\t  \n}' + ' '.repeat(9),
  'const n = 1234567890 + 3.14159e-10 - 0xDEADBEEF; // 2024-11-26',
  'naïve café, Straße, 東京タワー, Ελληνικά, русский, עברית, العربية, हिन्दी',
  'emoji 🎉👩‍💻🇩🇪 and 🤖🫠𓀀 in a comment; ZWJ families 👨‍👩‍👧‍👦',
  "it's, we'll, they're, I'VE, she'd, 'quoted' — “curly” … ellipsis",
  '\u00a0non-breaking\u2003em-space\u3000ideographic\u0085NEL \uFEFFbom',
  '    ',
  '\n',
  ' leading space',
  'x',
];

/** Deterministic random strings from pieces that stress pre-tokenizers, special-token splitting and byte fallback. */
function fuzzStrings(count: number, seed: number): string[] {
  const atoms = [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r', '\u00a0', '\u0085', '\u2028', '\u3000', '\ufeff', '\u200b',
    'a', 'Zq', 'hello', 'World', 'é', 'e\u0301', 'ß', '東京', 'カ', '한', 'я', 'ا', 'क्', '0', '7', '123', '45678', '١', '½', '²',
    "'", "'s", "'LL", "'ve", '"', '.', ',', '!', '?', '$', '+', '<', '|', '>', '_', '-', '/', '\\', '(', ')', '{', '}', ';', ':',
    '`', '~', '^', '@', '#', '%', '&', '*', '=', '…', '—', '🎉', '🫠', '👩‍💻', '\u{1F3FB}', '\u0000', '\u0007', '\ud800',
    '<|endoftext|>', '<|fim_prefix|>', '<|fim_', 'prefix|>', '<s>', '</s>', '<unk>', '<tool_call>', '▁', 'Ġ', 'Ċ'];
  let state = seed;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(24) }, () => atoms[next(atoms.length)]).join(''));
}

/**
 * encode == llama_tokenize and, unless `detokenize` is false, decode == llama_detokenize. (llama.cpp's
 * detokenize also applies clean_up_tokenization_spaces, ' ?' -> '?' and the like, for BPE pre-tokenizers
 * that leave clean_spaces on: gpt-2, default, llama3, starcoder. We never do: our decode is lossless.)
 */
function compareTokenize(ours: Tokenizer, cpp: LlamaCpp, texts: string[], special: boolean, detokenize = true): void {
  for (const text of texts) {
    const want = cpp.tokenize(text, { special });
    assert.deepEqual(ours.encode(text, { parseSpecial: special }), want, `special=${special}: ${JSON.stringify(text.slice(0, 80))}`);
    if (detokenize) assert.equal(ours.decode(want, { skipSpecial: !special }), cpp.detokenize(want, { special }), 'detokenize');
  }
}

test('tokenizer vs llama.cpp: stories260K (SentencePiece)', { skip: hasStories260K() ? false : STORIES260K_HELP }, async () => {
  const path = await ensureStories260K('f32');
  const ours = createTokenizer((await openGguf(path)).metadata);
  const cpp = await openLlamaCpp(path, { vocabOnly: true });
  try {
    const stories = ['Once upon a time, there was a little girl named Lily. She loved to play outside.',
      '"Can I have it?" asked Tom.\nMom said, "Yes!"', '<s>Lily</s> and <unk> as text'];
    for (const special of [true, false]) {
      compareTokenize(ours, cpp, [...stories, ...TRICKY, ...codeSamples(), ...fuzzStrings(1000, 1)], special);
    }
    assert.deepEqual(cpp.tokenize('<s>Lily', { special: true })[0], 1);
  } finally {
    await cpp.dispose();
  }
});

// Gemma's converter writes tokenizer.ggml.add_space_prefix = false: no space before the text, or after a
// special token, and none stripped from the decoded text. Checked with stories260K's vocabulary so marked.
test('tokenizer vs llama.cpp: SentencePiece with add_space_prefix false (as Gemma files have it)', { skip: hasStories260K() ? false : STORIES260K_HELP }, async () => {
  const src = await ensureStories260K('f32');
  const path = join(cacheDir(), 'tokenizer-stories260K-no-space-prefix.gguf');
  await rewriteGguf(src, path, { addMetadata: [{ key: 'tokenizer.ggml.add_space_prefix', type: GgufValueType.BOOL, value: false }] });
  const ours = createTokenizer((await openGguf(path)).metadata);
  const cpp = await openLlamaCpp(path, { vocabOnly: true });
  try {
    const texts = ['Once upon a time', ' Once', '<s>Lily</s> and <unk> as text', '\n  indented', 'x'];
    for (const special of [true, false]) compareTokenize(ours, cpp, [...texts, ...TRICKY, ...codeSamples().slice(0, 2), ...fuzzStrings(300, 3)], special);
    // The flag is read: the leading space llama's default would add is not there.
    assert.notDeepEqual(ours.encode('Once'), createTokenizer((await openGguf(src)).metadata).encode('Once'));
  } finally {
    await cpp.dispose();
  }
});

test('tokenizer vs llama.cpp: Qwen2.5 vocabulary (byte-level BPE, pre qwen2)', async () => {
  const path = await ensureSynthetic('tokenizer-qwen2-tiny', {
    arch: 'qwen2', nLayers: 1, dModel: 8, nHeads: 2, nKvHeads: 1, ffnDim: 16, vocabSize: 151_665,
    contextLength: 64, ropeTheta: 1_000_000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'qwen2',
  });
  const ours = createTokenizer((await openGguf(path)).metadata);
  const cpp = await openLlamaCpp(path, { vocabOnly: true });
  try {
    const fim = ['<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))<|fim_middle|>',
      '<|repo_name|>tandem\n<|file_sep|>src/a.ts\nexport const a = "<|endoftext|>";<|fim_pad|>', '<tool_call>{"x": 1}</tool_call>'];
    for (const special of [true, false]) {
      compareTokenize(ours, cpp, [...fim, ...TRICKY, ...codeSamples(), ...fuzzStrings(1000, 2)], special);
    }
    assert.equal(cpp.tokenize('<|fim_prefix|>', { special: true })[0], ours.fim?.prefix);
  } finally {
    await cpp.dispose();
  }
});

// The other pre-tokenizers, checked with the first 16,384 entries of Qwen's vocabulary (and the merges
// among them) under each tokenizer.ggml.pre value: llama.cpp splits with its own code for these (custom
// llama3 splitter, std::regex on collapsed categories), so this checks our regex lists against it.
test('tokenizer vs llama.cpp: pre-tokenizers llama-bpe, seed-coder, deepseek-coder, deepseek-llm, chatglm-bpe, starcoder, gpt-2, default', async () => {
  const spec: SyntheticSpec = { arch: 'qwen2', nLayers: 1, dModel: 8, nHeads: 2, nKvHeads: 1, ffnDim: 16, vocabSize: 16_384,
    contextLength: 64, ropeTheta: 1_000_000, tiedEmbedding: true, weightType: 'f32', seed: 1, tokenizer: 'qwen2' };
  const full = syntheticMetadata({ ...spec, vocabSize: 151_665 });
  const keep = new Set((full.find((e) => e.key === 'tokenizer.ggml.tokens')!.value as string[]).slice(0, spec.vocabSize));
  const truncate = (key: string, value: GgufValue): GgufValue => {
    if (key === 'tokenizer.ggml.tokens' || key === 'tokenizer.ggml.token_type') return (value as GgufValue[]).slice(0, spec.vocabSize);
    if (key === 'tokenizer.ggml.merges') {
      return (value as string[]).filter((m) => {
        const [l, r] = [m.slice(0, m.indexOf(' ', 1)), m.slice(m.indexOf(' ', 1) + 1)];
        return keep.has(l) && keep.has(r) && keep.has(l + r);
      });
    }
    return value;
  };
  const texts = [...TRICKY, ...codeSamples().slice(0, 2), ...fuzzStrings(300, 3)];
  for (const pre of ['llama-bpe', 'seed-coder', 'deepseek-coder', 'deepseek-llm', 'chatglm-bpe', 'starcoder', 'gpt-2', 'default']) {
    const metadata = full
      .filter((e) => !e.key.includes('_token_id'))
      .map((e) => ({ ...e, value: e.key === 'tokenizer.ggml.pre' ? pre : truncate(e.key, e.value) }));
    const path = join(cacheDir(), `tokenizer-pre-${pre}.${process.pid}.gguf`);
    await writeGguf(path, { metadata, tensors: zeroTensors(spec) });
    const cpp = await openLlamaCpp(path, { vocabOnly: true });
    try {
      const ours = createTokenizer(new Map(metadata.map((e) => [e.key, e.value])));
      // llama.cpp cleans up spaces when it detokenizes but for the deepseek lists (clean_spaces false).
      compareTokenize(ours, cpp, texts, true, pre.startsWith('deepseek-'));
    } finally {
      await cpp.dispose();
      rmSync(path, { force: true });
    }
  }
});

/** All-zero F32 tensors of a one-layer qwen2 model: llama.cpp wants them present even for a vocabulary-only load. */
function zeroTensors(s: SyntheticSpec) {
  const kv = (s.dModel / s.nHeads) * s.nKvHeads;
  const shapes: [string, number[]][] = [['token_embd.weight', [s.dModel, s.vocabSize]], ['output_norm.weight', [s.dModel]],
    ['blk.0.attn_norm.weight', [s.dModel]], ['blk.0.attn_q.weight', [s.dModel, s.dModel]], ['blk.0.attn_k.weight', [s.dModel, kv]],
    ['blk.0.attn_v.weight', [s.dModel, kv]], ['blk.0.attn_q.bias', [s.dModel]], ['blk.0.attn_k.bias', [kv]], ['blk.0.attn_v.bias', [kv]],
    ['blk.0.attn_output.weight', [s.dModel, s.dModel]], ['blk.0.ffn_norm.weight', [s.dModel]], ['blk.0.ffn_gate.weight', [s.dModel, s.ffnDim]],
    ['blk.0.ffn_up.weight', [s.dModel, s.ffnDim]], ['blk.0.ffn_down.weight', [s.ffnDim, s.dModel]]];
  return shapes.map(([name, dims]) => ({ name, dims, type: GgmlType.F32, data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)) }));
}

// The oracle helper itself, on the one real model: other tests trust its greedy tokens and log-probabilities.
test('llama.cpp helper: greedy, log-probabilities and timings on stories260K', { skip: hasStories260K() ? false : STORIES260K_HELP }, async (t) => {
  const golden = stories260KGolden() as ReturnType<typeof stories260KGolden> & { logits_after_bos_first8: number[] };
  const cpp = await openLlamaCpp(await ensureStories260K('f32'), { contextSize: 256 });
  try {
    assert.deepEqual(await cpp.greedy(golden.prompt, 200), golden.greedy_tokens);

    const prompt = [...golden.prompt, ...golden.greedy_tokens.slice(0, 15)];
    const lp = await cpp.logProbs(prompt);
    assert.equal(lp.length, prompt.length);
    // Log-probabilities differ from logits by one constant per position: compare differences.
    const g = golden.logits_after_bos_first8;
    for (let i = 1; i < g.length; i++) assert.ok(Math.abs((lp[0][i] - lp[0][0]) - (g[i] - g[0])) < 1e-4, `logit ${i}`);
    for (let pos = 0; pos < prompt.length; pos++) {
      let sum = 0;
      let argmax = 0;
      for (let v = 0; v < lp[pos].length; v++) {
        sum += Math.exp(lp[pos][v]);
        if (lp[pos][v] > lp[pos][argmax]) argmax = v;
      }
      assert.ok(Math.abs(sum - 1) < 1e-4, `position ${pos} sums to ${sum}`);
      assert.equal(argmax, golden.greedy_tokens[pos], `position ${pos} argmax`);
      // log-softmax is idempotent on log-probabilities: the route for comparing our logits.
      const again = logSoftmax(lp[pos]);
      assert.ok(Math.abs(again[argmax] - lp[pos][argmax]) < 1e-5);
    }

    const prefill = await cpp.timePrefill(prompt, 2);
    const decode = await cpp.timeDecode(golden.prompt, 32, 2);
    t.diagnostic(`llama.cpp CPU, 1 thread, stories260K f32: prefill ${prefill.toFixed(0)} tok/s, decode ${decode.toFixed(0)} tok/s`);
    assert.ok(prefill > 0 && decode > 0);
  } finally {
    await cpp.dispose();
  }
});
