// Synthetic models must be valid to llama.cpp (it loads them and decodes greedily without error)
// and to our reader, with the tensors, types and tokenizer metadata their spec asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openGguf, readTensorBytes } from '../../src/loaders/gguf/reader';
import { metaNumberArray, metaString, metaStringArray, metaU32 } from '../../src/loaders/gguf/metadata';
import { GgmlType } from '../../src/loaders/gguf/types';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { ensureSynthetic, llamaCppGreedy } from '../helpers/testModels';

const tinyLlama: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320,
  contextLength: 128, ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 1, tokenizer: 'spm-bytes',
};
const tinyQwen2: SyntheticSpec = {
  ...tinyLlama, arch: 'qwen2', nKvHeads: 1, weightType: 'q8_0', tiedEmbedding: true, seed: 2, ropeTheta: 1e6,
};
const qwen2Vocab: SyntheticSpec = {
  ...tinyQwen2, nLayers: 1, vocabSize: 151936, tokenizer: 'qwen2', seed: 3, slidingWindow: 4096,
};

test('tiny llama f32 (spm-bytes vocab): our reader sees the spec, llama.cpp decodes', async () => {
  const path = await ensureSynthetic('test-tiny-llama-f32', tinyLlama);
  const file = await openGguf(path);
  assert.equal(metaString(file.metadata, 'general.architecture'), 'llama');
  assert.equal(metaU32(file.metadata, 'llama.attention.head_count_kv'), 2);
  const tokens = metaStringArray(file.metadata, 'tokenizer.ggml.tokens');
  assert.equal(tokens.length, 320);
  assert.equal(tokens[3], '<0x00>');
  assert.equal(new Set(tokens).size, tokens.length, 'pieces are distinct');
  assert.equal(file.tensors.length, 3 + 2 * 9);
  const q = file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
  const values = dequantizeTensor(q.type, await readTensorBytes(file, q), q.elementCount);
  const std = Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
  assert.ok(Math.abs(std - 1 / 8) < 0.01, `attn_q std ${std} ~ 1/sqrt(64)`);
  const out = await llamaCppGreedy(path, [1, 300, 301], 8);
  assert.equal(out.length, 8);
  assert.ok(out.every((t) => t >= 0 && t < 320));
});

test('tiny qwen2 q8_0 (tied, biases): F32 biases and norms, Q8_0 matrices, llama.cpp decodes', async () => {
  const path = await ensureSynthetic('test-tiny-qwen2-q8_0', tinyQwen2);
  const file = await openGguf(path);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  assert.equal(byName.get('blk.0.attn_k.bias')!.type, GgmlType.F32);
  assert.deepEqual(byName.get('blk.0.attn_k.bias')!.dims, [16]);
  assert.equal(byName.get('blk.1.ffn_norm.weight')!.type, GgmlType.F32);
  assert.equal(byName.get('blk.1.ffn_down.weight')!.type, GgmlType.Q8_0);
  assert.equal(byName.get('output.weight'), undefined);
  const out = await llamaCppGreedy(path, [1, 280, 290, 300], 8);
  assert.equal(out.length, 8);
});

test('qwen2 with the real Qwen2.5 vocab padded to 151,936: ids, FIM tokens, llama.cpp decodes', async () => {
  const path = await ensureSynthetic('test-qwen2-vocab-q8_0', qwen2Vocab);
  const file = await openGguf(path);
  const m = file.metadata;
  assert.equal(metaString(m, 'tokenizer.ggml.model'), 'gpt2');
  assert.equal(metaString(m, 'tokenizer.ggml.pre'), 'qwen2');
  const tokens = metaStringArray(m, 'tokenizer.ggml.tokens');
  assert.equal(tokens.length, 151936);
  assert.equal(tokens[151643], '<|endoftext|>');
  assert.equal(tokens[151665], '[PAD151665]');
  assert.equal(metaNumberArray(m, 'tokenizer.ggml.token_type')[151659], 3);
  assert.equal(metaU32(m, 'tokenizer.ggml.eos_token_id'), 151643);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_pre_token_id'), 151659);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_mid_token_id'), 151660);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_suf_token_id'), 151661);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_pad_token_id'), 151662);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_rep_token_id'), 151663);
  assert.equal(metaU32(m, 'tokenizer.ggml.fim_sep_token_id'), 151664);
  assert.ok(metaStringArray(m, 'tokenizer.ggml.merges').length > 150000);
  const out = await llamaCppGreedy(path, [151659, 750, 151661, 151660], 4);
  assert.equal(out.length, 4);
  assert.ok(out.every((t) => t >= 0 && t < 151936));
});
