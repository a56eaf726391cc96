// Hand-built damaged GGUF headers: each must fail with a ModelFormatError naming the bad field, and
// the metadata accessors must name the key they could not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../../src/common/errors';
import { openGguf } from '../../src/loaders/gguf/reader';
import { metaBool, metaF32, metaNumberArray, metaString, metaStringArray, metaU32 } from '../../src/loaders/gguf/metadata';
import { GgmlType, GgufValueType as T } from '../../src/loaders/gguf/types';

const dir = mkdtempSync(join(tmpdir(), 'tandem-gguf-err-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Little-endian byte builder for raw headers. */
class Raw {
  parts: Buffer[] = [];
  u8(v: number) { this.parts.push(Buffer.from([v])); return this; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b); return this; }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  bytes(b: Uint8Array) { this.parts.push(Buffer.from(b)); return this; }
  str(s: string | Uint8Array) { const b = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s); return this.u64(b.length).bytes(b); }
  buf() { return Buffer.concat(this.parts); }
}

interface TensorSpec { name?: string; nDims?: number; dims?: Array<number | bigint>; type?: number; offset?: number | bigint }

/** A v3 file from raw kv entries and tensor descriptors, with `dataBytes` of data after the aligned header. */
function file(opts: { magic?: number; version?: number; nTensors?: number | bigint; nKv?: number | bigint; kv?: Raw[]; tensors?: TensorSpec[]; dataBytes?: number; alignment?: number }): Buffer {
  const kv = opts.kv ?? [];
  const tensors = opts.tensors ?? [];
  const r = new Raw().u32(opts.magic ?? 0x46554747).u32(opts.version ?? 3)
    .u64(opts.nTensors ?? tensors.length).u64(opts.nKv ?? kv.length);
  for (const e of kv) r.bytes(e.buf());
  for (const t of tensors) {
    const dims = t.dims ?? [4];
    r.str(t.name ?? 'w').u32(t.nDims ?? dims.length);
    for (const d of dims) r.u64(d);
    r.u32(t.type ?? GgmlType.F32).u64(t.offset ?? 0);
  }
  const header = r.buf();
  const alignment = opts.alignment ?? 32;
  const padded = Math.ceil(header.length / alignment) * alignment;
  return Buffer.concat([header, Buffer.alloc(padded - header.length + (opts.dataBytes ?? 64))]);
}

const kvU32 = (key: string, v: number) => new Raw().str(key).u32(T.UINT32).u32(v);

let n = 0;
async function expectField(bytes: Buffer, field: string | RegExp, message?: RegExp): Promise<void> {
  const path = join(dir, `case-${n++}.gguf`);
  writeFileSync(path, bytes);
  await assert.rejects(openGguf(path), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${e}`);
    if (typeof field === 'string') assert.equal(e.field, field); else assert.match(e.field, field);
    if (message) assert.match(e.message, message);
    assert.ok(e.message.includes(path), 'the message names the file');
    return true;
  });
}

async function parse(bytes: Buffer) {
  const path = join(dir, `ok-${n++}.gguf`);
  writeFileSync(path, bytes);
  return openGguf(path);
}

test('header: magic, version (incl. big-endian), absurd counts, truncation', async () => {
  await expectField(file({ magic: 0x46554746 }), 'header.magic');
  await expectField(file({ version: 1 }), 'header.version');
  await expectField(file({ version: 0x03000000 }), 'header.version', /big-endian/);
  await expectField(file({ nTensors: 2n ** 60n }), 'header.tensor_count');
  await expectField(file({ nTensors: 1000 }), 'header.tensor_count');
  await expectField(file({ nKv: 2n ** 64n - 1n }), 'header.metadata_kv_count');
  await expectField(Buffer.from('GGUF'), 'header', /truncated/);
  await expectField(Buffer.alloc(0), 'header.magic');
});

test('metadata: key length, UTF-8, duplicates, value types, array lengths and depth, bools', async () => {
  await expectField(file({ kv: [new Raw().u64(1 << 20)] }), 'metadata[0].key');
  await expectField(file({ kv: [new Raw().u64(70000).bytes(Buffer.alloc(70000, 97)).u32(T.UINT8).u8(0)] }), 'metadata[0].key', /limit/);
  await expectField(file({ kv: [new Raw().str(Uint8Array.from([0xff, 0xfe])).u32(T.UINT8).u8(0)] }), 'metadata[0].key', /UTF-8/);
  await expectField(file({ kv: [new Raw().str('').u32(T.UINT8).u8(0)] }), 'metadata[0].key', /empty/);
  await expectField(file({ kv: [kvU32('a', 1), kvU32('a', 2)] }), 'a', /duplicate/);
  await expectField(file({ kv: [new Raw().str('a').u32(13).u32(0)] }), 'a.type', /unknown/);
  await expectField(file({ kv: [new Raw().str('a').u32(T.STRING).u64(1e9)] }), 'a');
  await expectField(file({ kv: [new Raw().str('a').u32(T.ARRAY).u32(T.UINT32).u64(1e6)] }), 'a.length');
  await expectField(file({ kv: [new Raw().str('a').u32(T.ARRAY).u32(99).u64(1)] }), 'a.type');
  // array<array<array<u8>>> is deeper than 2.
  await expectField(file({ kv: [new Raw().str('a').u32(T.ARRAY).u32(T.ARRAY).u64(1).u32(T.ARRAY).u64(1).u32(T.UINT8).u64(0)] }), /^a\[0\]/, /nested/);
  await expectField(file({ kv: [new Raw().str('a').u32(T.BOOL).u8(2)] }), 'a', /bool/);
  // Lossy value strings are fine.
  const ok = await parse(file({ kv: [new Raw().str('a').u32(T.STRING).str(Uint8Array.from([0x61, 0xff]))] }));
  assert.equal(ok.metadata.get('a'), 'a\ufffd');
});

test('general.alignment: power of two, uint32, applied to offsets and the data section', async () => {
  await expectField(file({ kv: [kvU32('general.alignment', 48)] }), 'general.alignment');
  await expectField(file({ kv: [kvU32('general.alignment', 0)] }), 'general.alignment');
  await expectField(file({ kv: [kvU32('general.alignment', 1 << 20)] }), 'general.alignment');
  await expectField(file({ kv: [new Raw().str('general.alignment').u32(T.STRING).str('32')] }), 'general.alignment');
  const ok = await parse(file({ kv: [kvU32('general.alignment', 64)], alignment: 64, tensors: [{ offset: 0 }] }));
  assert.equal(ok.alignment, 64);
  assert.equal(ok.dataOffset % 64, 0);
  await expectField(file({ tensors: [{ offset: 16 }] }), 'tensor.w.offset', /aligned/);
});

test('tensors: n_dims, dims, element count, types, block multiples, bounds, duplicates, overlap', async () => {
  await expectField(file({ tensors: [{ nDims: 0, dims: [] }] }), 'tensor.w.n_dims');
  await expectField(file({ tensors: [{ dims: [1, 1, 1, 1, 1] }] }), 'tensor.w.n_dims');
  await expectField(file({ tensors: [{ dims: [4, 0] }] }), 'tensor.w.dims[1]');
  await expectField(file({ tensors: [{ dims: [2n ** 63n] }] }), 'tensor.w.dims[0]');
  await expectField(file({ tensors: [{ dims: [2 ** 30, 2 ** 30, 2 ** 30] }] }), 'tensor.w.dims', /2\^53/);
  await expectField(file({ tensors: [{ type: 99 }] }), 'tensor.w.type', /unknown ggml type 99/);
  await expectField(file({ tensors: [{ type: GgmlType.Q8_0, dims: [33] }] }), 'tensor.w.dims[0]', /multiple/);
  await expectField(file({ tensors: [{ dims: [64] }], dataBytes: 255 }), 'tensor.w.offset', /truncated/);
  await expectField(file({ tensors: [{ offset: 2n ** 62n }] }), 'tensor.w.offset');
  await expectField(file({ tensors: [{ name: 'x' }, { name: 'x', offset: 32 }] }), 'tensor.x', /duplicate/);
  await expectField(file({ tensors: [{ name: 'x', dims: [16] }, { name: 'y', offset: 32 }] }), 'tensor.y.offset', /overlaps/);
  const badName = file({ tensors: [{ name: 'w\u00e9' }] });
  badName[badName.indexOf(Buffer.from('w\u00e9')) + 1] = 0xff; // break the UTF-8 of the name
  await expectField(badName, 'tensor[0].name', /UTF-8/);
  // A known type Tandem cannot run (IQ2_XXS) still parses: the model layer raises UnsupportedQuantError.
  const ok = await parse(file({ tensors: [{ type: GgmlType.IQ2_XXS, dims: [256, 2] }], dataBytes: 132 }));
  assert.equal(ok.tensors[0].byteSize, 132);
});

test('metadata accessors name the key: missing, wrong type, optional, default', () => {
  const m = new Map<string, import('../../src/loaders/gguf/types').GgufValue>([
    ['n', 7], ['neg', -1], ['f', 0.5], ['s', 'llama'], ['b', true], ['sa', ['a', 'b']], ['na', [1, 2]], ['big', 2n ** 60n],
  ]);
  assert.equal(metaU32(m, 'n'), 7);
  assert.equal(metaF32(m, 'f'), 0.5);
  assert.equal(metaString(m, 's'), 'llama');
  assert.equal(metaBool(m, 'b'), true);
  assert.deepEqual(metaStringArray(m, 'sa'), ['a', 'b']);
  assert.deepEqual(metaNumberArray(m, 'na'), [1, 2]);
  assert.equal(metaU32(m, 'absent', { optional: true }), undefined);
  assert.equal(metaU32(m, 'absent', { default: 3 }), 3);
  const named = (key: string, detail: RegExp) => (e: unknown) =>
    e instanceof ModelFormatError && e.field === key && detail.test(e.message);
  assert.throws(() => metaU32(m, 'absent'), named('absent', /missing/));
  assert.throws(() => metaU32(m, 'neg'), named('neg', /expected an unsigned 32-bit integer, got number -1/));
  assert.throws(() => metaU32(m, 'big'), named('big', /got bigint/));
  assert.throws(() => metaString(m, 'n'), named('n', /expected a string/));
  assert.throws(() => metaStringArray(m, 'na'), named('na', /array of strings/));
  assert.throws(() => metaBool(m, 's', { default: false }), named('s', /expected a bool/));
});
