// SentencePiece ('llama') vocabularies: stories260K's tok512 as the llama2.c converter writes it, checked
// against the golden greedy text and against a plain re-implementation of llama.cpp's SPM merge loop.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenizerError } from '../../src/common/errors';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { llama2cVocabToGguf, readLlama2cTokenizer } from '../../src/loaders/llama2c';
import { spmBytesVocab } from '../../src/tools/spmVocab';
import { createTokenizer, TokenType } from '../../src/tokenizer';
import { hasStories260K, stories260KDir, stories260KGolden, STORIES260K_HELP } from '../helpers/testModels';

function stories260KMeta(): Map<string, GgufValue> {
  const vocab = readLlama2cTokenizer(join(stories260KDir(), 'tok512.bin'), 512);
  return new Map(llama2cVocabToGguf(vocab).map((e) => [e.key, e.value]));
}

/**
 * llama.cpp's llm_tokenizer_spm_session, written plainly: join the adjacent pair whose concatenation is a
 * token with the highest score (leftmost on ties) until none is left; pieces that are not tokens become
 * their <0xNN> byte tokens.
 */
function referenceSpm(text: string, tokens: string[], scores: number[]): number[] {
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const syms = Array.from(text);
  for (;;) {
    let best = -1;
    for (let i = 0; i + 1 < syms.length; i++) {
      const id = idOf.get(syms[i] + syms[i + 1]);
      if (id !== undefined && (best < 0 || scores[id] > scores[idOf.get(syms[best] + syms[best + 1])!])) best = i;
    }
    if (best < 0) break;
    syms.splice(best, 2, syms[best] + syms[best + 1]);
  }
  return syms.flatMap((s) => {
    const id = idOf.get(s);
    if (id !== undefined) return [id];
    return Array.from(new TextEncoder().encode(s), (b) => idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!);
  });
}

const SENTENCES = [
  'Once upon a time, there was a little girl named Lily.',
  'She loved to play outside in the park. One day, she saw a big, red ball.',
  '"I want to play," said Tom.\nThe sun was warm and the sky was blue!',
  'Zebras quietly jumped over 42 lazy dogs; café au lait? 🐶',
  '  two leading spaces and a trailing one ',
  'x',
];

test('stories260K SentencePiece tokenizer', { skip: hasStories260K() ? false : STORIES260K_HELP }, async (t) => {
  const meta = stories260KMeta();
  const tok = createTokenizer(meta);
  const tokens = meta.get('tokenizer.ggml.tokens') as string[];
  const scores = meta.get('tokenizer.ggml.scores') as number[];

  await t.test('vocabulary and special ids', () => {
    assert.equal(tok.vocabSize, 512);
    assert.equal(tok.model, 'llama');
    assert.equal(tok.bosId, 1);
    assert.equal(tok.eosId, 2);
    assert.equal(tok.addBosDefault, true);
    assert.deepEqual(tok.eotIds, [2]);
    assert.equal(tok.fim, undefined);
    assert.equal(tok.tokenType(13), TokenType.Byte);
    assert.equal(tok.tokenText(13), '<0x0A>');
  });

  await t.test('decode(golden greedy tokens) is the golden text', () => {
    const golden = stories260KGolden();
    assert.equal(tok.decode(golden.greedy_tokens), golden.text);
    // The same tokens streamed as a continuation keep the space of the first piece.
    const stream = tok.createStreamDecoder();
    const streamed = golden.greedy_tokens.map((id) => stream.push(id)).join('') + stream.flush();
    assert.equal(streamed, ' ' + golden.text);
  });

  await t.test('encode matches llama.cpp\'s SPM merge loop and round-trips', () => {
    for (const s of SENTENCES) {
      const ids = tok.encode(s);
      assert.deepEqual(ids, referenceSpm(('▁' + s).replaceAll(' ', '▁'), tokens, scores), s);
      assert.equal(tok.decode(ids), s);
    }
  });

  await t.test('the model\'s greedy text re-encodes to its own tokens', () => {
    const golden = stories260KGolden();
    assert.deepEqual(tok.encode(golden.text!), golden.greedy_tokens);
  });

  await t.test('BOS, special text and the space prefix after a special token', () => {
    assert.deepEqual(tok.encode('Once', { addBos: true }), [1, ...tok.encode('Once')]);
    const withSpecial = tok.encode('Hi</s>Once');
    assert.deepEqual(withSpecial, [...tok.encode('Hi'), 2, ...tok.encode('Once')]);
    const asText = tok.encode('Hi</s>Once', { parseSpecial: false });
    assert.ok(!asText.includes(2));
    assert.equal(tok.decode(asText), 'Hi</s>Once');
    assert.equal(tok.decode([1, ...tok.encode('Once')]), '<s> Once');
    assert.equal(tok.decode([1, ...tok.encode('Once')], { skipSpecial: true }), ' Once');
  });
});

// This vocabulary has no bare '▁' piece, so a space before a character it lacks falls back to the three
// bytes of '▁' and decodes as '▁' (in llama.cpp too): only encoding is compared here.
test('synthetic SPM vocabulary with byte fallback', () => {
  const meta = new Map(spmBytesVocab(1000).map((e) => [e.key, e.value]));
  const tok = createTokenizer(meta);
  const tokens = meta.get('tokenizer.ggml.tokens') as string[];
  const scores = meta.get('tokenizer.ggml.scores') as number[];
  for (const s of ['fn main() { println!("héllo, wörld"); }', '\ttabs\tand 😀 emoji', 'a  b   c']) {
    assert.deepEqual(tok.encode(s), referenceSpm(('▁' + s).replaceAll(' ', '▁'), tokens, scores), s);
  }
});

test('inconsistent or unsupported metadata is a TokenizerError', () => {
  const base = () => new Map(spmBytesVocab(300).map((e) => [e.key, e.value]));
  const cases: [string, (m: Map<string, GgufValue>) => void][] = [
    ['no tokenizer', (m) => m.delete('tokenizer.ggml.model')],
    ['unsupported model', (m) => m.set('tokenizer.ggml.model', 't5')],
    ['token_type length', (m) => m.set('tokenizer.ggml.token_type', (m.get('tokenizer.ggml.token_type') as number[]).slice(1))],
    ['scores length', (m) => m.set('tokenizer.ggml.scores', [0, 1])],
    ['duplicate token', (m) => (m.get('tokenizer.ggml.tokens') as string[]).splice(299, 1, '<s>')],
    ['gpt2 without merges', (m) => m.set('tokenizer.ggml.model', 'gpt2')],
    ['unknown pre-tokenizer', (m) => m.set('tokenizer.ggml.model', 'gpt2').set('tokenizer.ggml.merges', []).set('tokenizer.ggml.pre', 'no-such-pre')],
    ['tokens not strings', (m) => m.set('tokenizer.ggml.tokens', [1, 2, 3])],
  ];
  for (const [name, spoil] of cases) {
    const m = base();
    spoil(m);
    assert.throws(() => createTokenizer(m), TokenizerError, name);
  }
  const tok = createTokenizer(base());
  assert.throws(() => tok.decode([300]), TokenizerError);
  assert.throws(() => tok.tokenText(-1), TokenizerError);
});
