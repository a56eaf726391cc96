// Writer -> reader round trips: every metadata value type (64-bit ints beyond 2^53 as bigint),
// string arrays that cross the reader's 1 MiB window, tensor data by range and in block-sized chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGguf, readTensorBytes, readTensorChunks } from '../../src/loaders/gguf/reader';
import { writeGguf } from '../../src/loaders/gguf/writer';
import { GgmlType, GgufValueType as T, type GgufMetadataEntry } from '../../src/loaders/gguf/types';

const dir = mkdtempSync(join(tmpdir(), 'tandem-gguf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

const metadata: GgufMetadataEntry[] = [
  { key: 'general.architecture', type: T.STRING, value: 'llama' },
  { key: 't.u8', type: T.UINT8, value: 255 },
  { key: 't.i8', type: T.INT8, value: -128 },
  { key: 't.u16', type: T.UINT16, value: 65535 },
  { key: 't.i16', type: T.INT16, value: -32768 },
  { key: 't.u32', type: T.UINT32, value: 0xffffffff },
  { key: 't.i32', type: T.INT32, value: -0x80000000 },
  { key: 't.f32', type: T.FLOAT32, value: 1.5 },
  { key: 't.f64', type: T.FLOAT64, value: Math.PI },
  { key: 't.bool.true', type: T.BOOL, value: true },
  { key: 't.bool.false', type: T.BOOL, value: false },
  { key: 't.string.unicode', type: T.STRING, value: 'héllo ▁wörld 🦙' },
  { key: 't.string.empty', type: T.STRING, value: '' },
  { key: 't.u64.small', type: T.UINT64, value: 2 ** 53 },
  { key: 't.u64.max', type: T.UINT64, value: 2n ** 64n - 1n },
  { key: 't.i64.min', type: T.INT64, value: -(2n ** 63n) },
  { key: 't.i64.neg', type: T.INT64, value: -5 },
  { key: 't.arr.str', type: T.ARRAY, arrayType: T.STRING, value: ['a', '', '▁b', '<0x0A>'] },
  { key: 't.arr.u8', type: T.ARRAY, arrayType: T.UINT8, value: [0, 1, 255] },
  { key: 't.arr.i32', type: T.ARRAY, arrayType: T.INT32, value: [-1, 2, 3] },
  { key: 't.arr.f32', type: T.ARRAY, arrayType: T.FLOAT32, value: [0.25, -2] },
  { key: 't.arr.i64', type: T.ARRAY, arrayType: T.INT64, value: [1, -(2n ** 62n)] },
  { key: 't.arr.bool', type: T.ARRAY, arrayType: T.BOOL, value: [true, false] },
  { key: 't.arr.empty', type: T.ARRAY, arrayType: T.UINT32, value: [] },
];

const tensorData = {
  f32: bytes(3 * 2 * 4, 1),
  q8: bytes(2 * 2 * 34, 2),
  f16: bytes(5 * 2, 3),
  q4: bytes(18, 4),
};

for (const alignment of [32, 64, 1]) {
  test(`round trip: every metadata type and 4 tensors, alignment ${alignment}`, async () => {
    const path = join(dir, `rt-${alignment}.gguf`);
    await writeGguf(path, {
      metadata, alignment,
      tensors: [
        { name: 'a.f32', dims: [3, 2], type: GgmlType.F32, data: tensorData.f32 },
        { name: 'b.q8', dims: [64, 2], type: GgmlType.Q8_0, data: () => [tensorData.q8.subarray(0, 34), tensorData.q8.subarray(34)] },
        { name: 'c.f16', dims: [5], type: GgmlType.F16, data: () => tensorData.f16 },
        { name: 'd.q4', dims: [32, 1, 1, 1], type: GgmlType.Q4_0, data: tensorData.q4 },
      ],
    });
    const file = await openGguf(path);
    assert.equal(file.version, 3);
    assert.equal(file.alignment, alignment);
    assert.equal(file.dataOffset % alignment, 0);
    for (const m of metadata) assert.deepEqual(file.metadata.get(m.key), m.value, m.key);
    if (alignment !== 32) assert.equal(file.metadata.get('general.alignment'), alignment);
    assert.deepEqual(file.tensors.map((t) => [t.name, t.dims, t.type, t.elementCount, t.byteSize]), [
      ['a.f32', [3, 2], GgmlType.F32, 6, 24], ['b.q8', [64, 2], GgmlType.Q8_0, 128, 136],
      ['c.f16', [5], GgmlType.F16, 5, 10], ['d.q4', [32, 1, 1, 1], GgmlType.Q4_0, 32, 18],
    ]);
    const [a, b, c, d] = file.tensors;
    assert.deepEqual(await readTensorBytes(file, a), tensorData.f32);
    assert.deepEqual(await readTensorBytes(file, b), tensorData.q8);
    assert.deepEqual(await readTensorBytes(file, c), tensorData.f16);
    assert.deepEqual(await readTensorBytes(file, d), tensorData.q4);
    assert.deepEqual(await readTensorBytes(file, b, 34, 40), tensorData.q8.subarray(34, 74));
    await assert.rejects(readTensorBytes(file, b, 100, 100), RangeError);
    // Chunks are whole Q8_0 blocks (34 bytes) even when asked for 100 bytes.
    const chunks: Uint8Array[] = [];
    for await (const chunk of readTensorChunks(file, b, 100)) chunks.push(chunk);
    assert.deepEqual(chunks.map((x) => x.length), [68, 68]);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(tensorData.q8));
  });
}

test('a 200k-token vocab and a 3 MB string cross the reader window intact', async () => {
  const path = join(dir, 'big.gguf');
  const tokens = Array.from({ length: 200_000 }, (_, i) => `tok${i}▁`);
  const big = 'x'.repeat(3 << 20) + 'END';
  await writeGguf(path, {
    metadata: [
      { key: 'tokenizer.ggml.tokens', type: T.ARRAY, arrayType: T.STRING, value: tokens },
      { key: 'tokenizer.huggingface.json', type: T.STRING, value: big },
    ],
    tensors: [],
  });
  const file = await openGguf(path);
  assert.deepEqual(file.metadata.get('tokenizer.ggml.tokens'), tokens);
  assert.equal(file.metadata.get('tokenizer.huggingface.json'), big);
});

test('writer rejects data of the wrong size and duplicate names', async () => {
  const path = join(dir, 'bad.gguf');
  await assert.rejects(writeGguf(path, { metadata: [], tensors: [{ name: 'x', dims: [4], type: GgmlType.F32, data: new Uint8Array(15) }] }), /expected 16/);
  await assert.rejects(writeGguf(path, { metadata: [], tensors: [{ name: 'x', dims: [33], type: GgmlType.Q8_0, data: new Uint8Array(34) }] }), /multiple of 32/);
  await assert.rejects(writeGguf(path, {
    metadata: [{ key: 'k', type: T.UINT8, value: 1 }, { key: 'k', type: T.UINT8, value: 2 }], tensors: [],
  }), /duplicate metadata key/);
});
