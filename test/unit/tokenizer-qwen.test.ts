// Qwen2.5's byte-level BPE rebuilt from GGUF metadata (converted the way convert_hf_to_gguf.py does)
// against @huggingface/tokenizers running the original tokenizer.json, over real source files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { createTokenizer, TokenType, type Tokenizer } from '../../src/tokenizer';
import { hfTokenizerToGguf, qwen2TokenizerJsonPath } from '../../src/tools/hfTokenizerToGguf';
import { preTokenizerPatterns } from '../../src/tokenizer/pretokenize';
import { repoRoot } from '../helpers/testModels';

const FIM_PREFIX = 151659;
const FIM_MIDDLE = 151660;
const FIM_SUFFIX = 151661;
const ENDOFTEXT = 151643;

function qwenMeta(vocabSize?: number): Map<string, GgufValue> {
  return new Map(hfTokenizerToGguf(qwen2TokenizerJsonPath(), { vocabSize }).map((e) => [e.key, e.value]));
}

/** Real code: slices of several KB from JavaScript and TypeScript files shipped in node_modules. */
function codeSamples(): { name: string; text: string }[] {
  const files = [
    ['@huggingface/tokenizers/dist/tokenizers.mjs', 40_000],
    ['typescript/lib/lib.es5.d.ts', 100_000],
    ['esbuild/lib/main.js', 20_000],
    ['lru-cache/dist/esm/index.js', 5_000],
  ] as const;
  return files.map(([path, from]) => {
    const text = readFileSync(join(repoRoot(), 'node_modules', path), 'utf8');
    return { name: path, text: text.slice(from, from + 8_000) };
  });
}

const TRICKY = [
  'def f(x):\r\n\treturn x  # CRLF and a tab\r\n',
  'if (a) {\n' + ' '.repeat(37) + 'b();\n\n\n\t\t\t  \n}' + ' '.repeat(9),
  'const n = 1234567890 + 3.14159e-10 - 0xDEADBEEF; // 2024-11-26',
  'naïve café, Straße, 東京タワー, Ελληνικά, русский, עברית, العربية, हिन्दी',
  'emoji 🎉👩‍💻🇩🇪 and 🤖🫠𓀀 in a comment; ZWJ families 👨‍👩‍👧‍👦',
  "it's, we'll, they're, I'VE, she'd, 'quoted' — “curly” … ellipsis",
  '\u00a0non-breaking\u2003em-space\u3000ideographic\u0085NEL',
  '    ',
  '\n',
  'x',
];

let hf: HfTokenizer;
let ours: Tokenizer;
let buildMs = 0;

test('Qwen2.5 tokenizer from GGUF metadata', async (t) => {
  const dir = dirname(qwen2TokenizerJsonPath());
  hf = new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
  const meta = qwenMeta();
  const start = performance.now();
  ours = createTokenizer(meta);
  buildMs = performance.now() - start;
  t.diagnostic(`construction from metadata, ${ours.vocabSize} tokens: ${buildMs.toFixed(0)} ms`);

  await t.test('vocabulary, special ids and FIM tokens', () => {
    assert.equal(ours.vocabSize, 151_665);
    assert.equal(ours.model, 'gpt2');
    assert.equal(ours.addBosDefault, false);
    assert.deepEqual(ours.fim, { prefix: FIM_PREFIX, suffix: FIM_SUFFIX, middle: FIM_MIDDLE, pad: 151662, repo: 151663, fileSep: 151664 });
    for (const id of [ENDOFTEXT, 151645, 151662, 151663, 151664]) assert.ok(ours.eotIds.includes(id), `eog ${id}`);
    assert.ok(!ours.eotIds.includes(FIM_PREFIX));
    assert.equal(ours.tokenType(FIM_PREFIX), TokenType.Control);
    assert.equal(ours.tokenType(151657), TokenType.UserDefined); // <tool_call>
    assert.equal(ours.tokenText(FIM_PREFIX), '<|fim_prefix|>');
  });

  await t.test('encode equals Hugging Face on real code', () => {
    for (const { name, text } of codeSamples()) {
      const want = hf.encode(text, { add_special_tokens: false }).ids;
      const got = ours.encode(text);
      assert.deepEqual(got, want, name);
      assert.equal(ours.decode(got), text, `${name}: decode round trip`);
    }
  });

  await t.test('encode equals Hugging Face on whitespace, numbers, unicode and emoji', () => {
    for (const text of TRICKY) {
      assert.deepEqual(ours.encode(text), hf.encode(text, { add_special_tokens: false }).ids, JSON.stringify(text));
      assert.equal(ours.decode(ours.encode(text)), text);
      assert.equal(ours.decode(ours.encode(text)), hf.decode(ours.encode(text), { skip_special_tokens: false }));
    }
    assert.deepEqual(ours.encode(''), []);
  });

  await t.test('special tokens: parsed by default, left as text with parseSpecial false', () => {
    const prompt = '<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))<|fim_middle|>';
    const ids = ours.encode(prompt);
    assert.deepEqual(ids, hf.encode(prompt, { add_special_tokens: false }).ids);
    assert.equal(ids[0], FIM_PREFIX);
    assert.ok(ids.includes(FIM_SUFFIX));
    assert.equal(ids.at(-1), FIM_MIDDLE);

    const userCode = 'const marker = "<|endoftext|><|fim_middle|>";';
    const plain = ours.encode(userCode, { parseSpecial: false });
    for (const id of [ENDOFTEXT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX]) assert.ok(!plain.includes(id));
    assert.equal(ours.decode(plain), userCode);
    assert.ok(ours.encode(userCode).includes(ENDOFTEXT));
    // User-defined tokens are plain vocabulary pieces: matched either way, as llama.cpp does.
    assert.deepEqual(ours.encode('<tool_call>', { parseSpecial: false }), [151657]);
  });

  await t.test('addBos puts the BOS id first', () => {
    assert.equal(ours.bosId, ENDOFTEXT);
    assert.deepEqual(ours.encode('hi', { addBos: true }), [ENDOFTEXT, ...ours.encode('hi')]);
  });

  await t.test('decode renders or skips control tokens', () => {
    const ids = [FIM_PREFIX, ...ours.encode('x = 1'), FIM_MIDDLE];
    assert.equal(ours.decode(ids), '<|fim_prefix|>x = 1<|fim_middle|>');
    assert.equal(ours.decode(ids, { skipSpecial: true }), 'x = 1');
  });

  await t.test('stream decoder reproduces decode() token by token, holding split characters', () => {
    const text = TRICKY.join('\n') + codeSamples()[0].text.slice(0, 2000);
    const ids = ours.encode(text);
    const stream = ours.createStreamDecoder();
    let out = '';
    let heldBack = 0;
    for (const id of ids) {
      const piece = stream.push(id);
      assert.ok(!piece.includes('\uFFFD'), 'no partial character is emitted');
      if (piece === '' && ours.tokenBytes(id).length > 0) heldBack++;
      out += piece;
    }
    out += stream.flush();
    assert.equal(out, ours.decode(ids));
    assert.equal(out, text);
    assert.ok(heldBack > 0, 'the sample splits at least one character over tokens');
    // A character cut off at the end comes out as U+FFFD on flush, like decode() of the same ids.
    const emoji = ours.encode('🫠');
    assert.ok(emoji.length > 1);
    assert.equal(stream.push(emoji[0]), '');
    assert.equal(stream.flush(), '\uFFFD');
    assert.equal(ours.decode([emoji[0]]), '\uFFFD');
  });

  await t.test('a leading U+FEFF survives decode', () => {
    const text = '\uFEFFexport const a = 1;\n';
    assert.equal(ours.decode(ours.encode(text)), text);
  });

  await t.test('differs from Hugging Face only by its NFC normalizer, as llama.cpp does', () => {
    const decomposed = 'cafe\u0301';
    assert.notDeepEqual(ours.encode(decomposed), hf.encode(decomposed, { add_special_tokens: false }).ids);
    assert.deepEqual(ours.encode(decomposed.normalize('NFC')), hf.encode(decomposed, { add_special_tokens: false }).ids);
    assert.equal(ours.decode(ours.encode(decomposed)), decomposed);
  });

  await t.test('encode speed on ~20 KB of code', (tt) => {
    const text = codeSamples().map((s) => s.text).join('\n').slice(0, 20_000);
    ours.encode(text); // warm the BPE cache once, as an editor session would be
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      ours.encode(text);
      runs.push(performance.now() - start);
    }
    runs.sort((a, b) => a - b);
    const coldStart = performance.now();
    createTokenizer(qwenMeta()).encode(text);
    tt.diagnostic(`encode 20,000 chars: median ${runs[2].toFixed(1)} ms warm; fresh tokenizer first call ${(performance.now() - coldStart).toFixed(0)} ms incl. construction`);
    assert.ok(runs[2] < 200, `encode took ${runs[2]} ms`);
  });

  await t.test('padded vocabulary: [PAD] rows are unused and decode to nothing', () => {
    const padded = createTokenizer(qwenMeta(151_936));
    assert.equal(padded.vocabSize, 151_936);
    assert.equal(padded.tokenType(151_700), TokenType.Unused);
    assert.equal(padded.decode([151_700]), '');
    assert.deepEqual(padded.encode('[PAD151700]'), ours.encode('[PAD151700]'));
  });
});

test('GLM-4 pre-tokenizers (chatglm-bpe, glm4): the llama3 split, and no BOS id whatever the metadata says, as llama.cpp', () => {
  for (const pre of ['chatglm-bpe', 'glm4']) {
    assert.equal(preTokenizerPatterns(pre), preTokenizerPatterns('llama-bpe'), pre);
    const meta = qwenMeta();
    meta.set('tokenizer.ggml.pre', pre);
    meta.set('tokenizer.ggml.bos_token_id', ENDOFTEXT);
    const tok = createTokenizer(meta);
    assert.deepEqual([tok.bosId, tok.addBosDefault], [undefined, false], pre);
  }
});
