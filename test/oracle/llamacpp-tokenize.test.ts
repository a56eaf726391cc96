// Our tokenizer against llama.cpp's llama_tokenize / llama_detokenize on the same GGUF files:
// stories260K (SentencePiece) and a tiny synthetic model carrying Qwen2.5's byte-level BPE vocabulary.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openGguf } from '../../src/loaders/gguf/reader';
import { createTokenizer, type Tokenizer } from '../../src/tokenizer';
import { logSoftmax, openLlamaCpp, type LlamaCpp } from '../helpers/llamacpp';
import { ensureStories260K, ensureSynthetic, hasStories260K, repoRoot, stories260KGolden, STORIES260K_HELP } from '../helpers/testModels';

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

function compareTokenize(ours: Tokenizer, cpp: LlamaCpp, texts: string[], special: boolean): void {
  for (const text of texts) {
    const want = cpp.tokenize(text, { special });
    assert.deepEqual(ours.encode(text, { parseSpecial: special }), want, `special=${special}: ${JSON.stringify(text.slice(0, 80))}`);
    assert.equal(ours.decode(want, { skipSpecial: !special }), cpp.detokenize(want, { special }), 'detokenize');
  }
}

test('tokenizer vs llama.cpp: stories260K (SentencePiece)', { skip: hasStories260K() ? false : STORIES260K_HELP }, async () => {
  const path = await ensureStories260K('f32');
  const ours = createTokenizer((await openGguf(path)).metadata);
  const cpp = await openLlamaCpp(path, { vocabOnly: true });
  try {
    const stories = ['Once upon a time, there was a little girl named Lily. She loved to play outside.',
      '"Can I have it?" asked Tom.\nMom said, "Yes!"', '<s>Lily</s> and <unk> as text'];
    for (const special of [true, false]) compareTokenize(ours, cpp, [...stories, ...TRICKY, ...codeSamples()], special);
    assert.deepEqual(cpp.tokenize('<s>Lily', { special: true })[0], 1);
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
    for (const special of [true, false]) compareTokenize(ours, cpp, [...fim, ...TRICKY, ...codeSamples()], special);
    assert.equal(cpp.tokenize('<|fim_prefix|>', { special: true })[0], ours.fim?.prefix);
  } finally {
    await cpp.dispose();
  }
});

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
