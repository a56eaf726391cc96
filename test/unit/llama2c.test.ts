// The converter is right when llama.cpp, loading our GGUF, generates the same greedy tokens as the
// float64 reference forward pass (golden-greedy.json). Also checks the tokenizer reader and the
// vocab mapping llama.cpp needs (specials renamed, '▁' for spaces, byte tokens typed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openGguf, readTensorBytes } from '../../src/loaders/gguf/reader';
import { metaString, metaStringArray, metaNumberArray, metaU32 } from '../../src/loaders/gguf/metadata';
import { GgmlType } from '../../src/loaders/gguf/types';
import { readLlama2cTokenizer, TOKEN_TYPE } from '../../src/loaders/llama2c';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';
import { dequantizedCopy, ensureStories260K, hasStories260K, llamaCppGreedy, STORIES260K_HELP, stories260KDir, stories260KGolden } from '../helpers/testModels';


const GOLDEN_PREFIX_TOKENS = 50;
const skip = hasStories260K() ? false : STORIES260K_HELP;

test('readLlama2cTokenizer reads tok512.bin: 512 pieces, byte pieces, scores', { skip }, () => {
  const tok = readLlama2cTokenizer(join(stories260KDir(), 'tok512.bin'));
  assert.equal(tok.pieces.length, 512);
  assert.equal(tok.scores.length, 512);
  assert.equal(tok.pieces[3 + 0x0a], '<0x0A>');
  assert.ok(tok.pieces.some((p) => p.startsWith(' ')), 'some pieces carry a leading space');
  assert.ok(tok.maxTokenLength > 0);
});

test('converted stories260K (f32) has llama metadata, F32 norms and the checkpoint values', { skip }, async () => {
  const path = await ensureStories260K('f32');
  const file = await openGguf(path);
  assert.equal(metaString(file.metadata, 'general.architecture'), 'llama');
  assert.equal(metaU32(file.metadata, 'llama.embedding_length'), 64);
  assert.equal(metaU32(file.metadata, 'llama.feed_forward_length'), 172);
  assert.equal(metaU32(file.metadata, 'llama.block_count'), 5);
  assert.equal(metaU32(file.metadata, 'llama.attention.head_count_kv'), 4);
  assert.equal(metaU32(file.metadata, 'llama.rope.dimension_count'), 8);
  const tokens = metaStringArray(file.metadata, 'tokenizer.ggml.tokens');
  const types = metaNumberArray(file.metadata, 'tokenizer.ggml.token_type');
  assert.deepEqual(tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
  assert.equal(types[3 + 0x41], TOKEN_TYPE.byte);
  assert.ok(tokens.every((t) => !t.includes(' ')), 'spaces are written as U+2581');
  assert.equal(file.tensors.find((t) => t.name === 'output.weight'), undefined, 'classifier is shared');
  assert.equal(file.tensors.length, 2 + 5 * 9);
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight')!;
  assert.deepEqual(embd.dims, [64, 512]);
  // The first embedding value equals the checkpoint's first f32 after the 28-byte header.
  const { readFileSync } = await import('node:fs');
  const raw = readFileSync(join(stories260KDir(), 'stories260K.bin'));
  const values = dequantizeTensor(embd.type, await readTensorBytes(file, embd, 0, 64 * 4), 64);
  for (let i = 0; i < 64; i++) assert.equal(values[i], raw.readFloatLE(28 + 4 * i));
});

test('q8_0 conversion keeps norms F32 and falls back to F16 for rows of 172', { skip }, async () => {
  const file = await openGguf(await ensureStories260K('q8_0'));
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  assert.equal(byName.get('blk.0.attn_norm.weight')!.type, GgmlType.F32);
  assert.equal(byName.get('blk.0.attn_q.weight')!.type, GgmlType.Q8_0);
  assert.equal(byName.get('blk.0.ffn_down.weight')!.type, GgmlType.F16);
});

test(`llama.cpp greedy decoding of converted stories260K matches the golden tokens (${GOLDEN_PREFIX_TOKENS}+)`, { skip }, async () => {
  const golden = stories260KGolden();
  const path = await ensureStories260K('f32');
  const tokens = await llamaCppGreedy(path, golden.prompt, golden.greedy_tokens.length);
  let same = 0;
  while (same < tokens.length && tokens[same] === golden.greedy_tokens[same]) same++;
  console.log(`llama.cpp matches ${same}/${golden.greedy_tokens.length} golden tokens`);
  assert.deepEqual(tokens.slice(0, GOLDEN_PREFIX_TOKENS), golden.greedy_tokens.slice(0, GOLDEN_PREFIX_TOKENS));
});

for (const type of ['q8_0', 'q4_0'] as const) {
  test(`llama.cpp reads our ${type} blocks as we do: same greedy tokens as our dequantized F32 copy`, { skip }, async () => {
    const quantPath = await ensureStories260K(type);
    const deqPath = join(dirname(quantPath), `stories260K-${type}-dequantized.${process.pid}.gguf`);
    try {
      await dequantizedCopy(quantPath, deqPath);
      const fromBlocks = await llamaCppGreedy(quantPath, [1], 40);
      const fromF32 = await llamaCppGreedy(deqPath, [1], 40);
      let same = 0;
      while (same < 40 && fromBlocks[same] === fromF32[same]) same++;
      console.log(`${type}: llama.cpp on blocks vs on our dequantized f32 agree for ${same}/40 tokens`);
      assert.ok(same >= 30, `only ${same} tokens agree`);
    } finally {
      rmSync(deqPath, { force: true });
    }
  });
}
