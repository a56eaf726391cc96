// Mutation fuzzing of the GGUF reader: from a small valid synthesized model, >= 1,000 damaged files
// (truncations, byte flips in the header, huge counts and lengths, bad value and tensor types, bad
// offsets). Every one must parse or throw ModelFormatError, within 1 s, without a large allocation;
// a file that parses must also have every tensor readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../../src/common/errors';
import { openGguf, readTensorBytes } from '../../src/loaders/gguf/reader';
import { synthesizeModel } from '../../src/tools/synthesize';
import { Xoshiro128 } from '../../src/tools/prng';

const PER_FILE_LIMIT_MS = 1000;
const HEAP_GROWTH_LIMIT_BYTES = 256 << 20;

const dir = mkdtempSync(join(tmpdir(), 'tandem-fuzz-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Byte positions of the fields worth corrupting, found by walking the valid file's header. */
interface FieldMap { counts: number[]; lengths: number[]; valueTypes: number[]; tensorTypes: number[]; tensorOffsets: number[]; nDims: number[]; dims: number[]; headerEnd: number }

function mapFields(buf: Buffer): FieldMap {
  const m: FieldMap = { counts: [8, 16], lengths: [], valueTypes: [], tensorTypes: [], tensorOffsets: [], nDims: [], dims: [], headerEnd: 0 };
  let p = 24;
  const nTensors = Number(buf.readBigUInt64LE(8));
  const nKv = Number(buf.readBigUInt64LE(16));
  const str = () => { m.lengths.push(p); p += 8 + Number(buf.readBigUInt64LE(p)); };
  const sizes: Record<number, number> = { 0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8 };
  for (let i = 0; i < nKv; i++) {
    str();
    m.valueTypes.push(p);
    const type = buf.readUInt32LE(p); p += 4;
    if (type === 8) str();
    else if (type === 9) {
      m.valueTypes.push(p);
      const elem = buf.readUInt32LE(p); p += 4;
      m.lengths.push(p);
      const n = Number(buf.readBigUInt64LE(p)); p += 8;
      for (let j = 0; j < n; j++) if (elem === 8) { if (j < 4) str(); else p += 8 + Number(buf.readBigUInt64LE(p)); } else p += sizes[elem];
    } else p += sizes[type];
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    m.nDims.push(p);
    const nd = buf.readUInt32LE(p); p += 4;
    for (let d = 0; d < nd; d++) { m.dims.push(p); p += 8; }
    m.tensorTypes.push(p); p += 4;
    m.tensorOffsets.push(p); p += 8;
  }
  m.headerEnd = p;
  return m;
}

const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 31n, 0xffffffffn, 1n << 40n, 10n ** 9n, 0n];

type Outcome = 'parsed' | 'ModelFormatError';

async function parseWithin(path: string): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${path}: no result within ${PER_FILE_LIMIT_MS} ms`)), PER_FILE_LIMIT_MS);
  });
  try {
    return await Promise.race([hang, (async (): Promise<Outcome> => {
      try {
        const file = await openGguf(path);
        for (const t of file.tensors) await readTensorBytes(file, t, 0, Math.min(t.byteSize, 64));
        return 'parsed';
      } catch (e) {
        if (e instanceof ModelFormatError) return 'ModelFormatError';
        throw e;
      }
    })()]);
  } finally {
    clearTimeout(timer);
  }
}

test('fuzz: >= 1,000 mutated GGUFs end in a parse or a ModelFormatError', { timeout: 120_000 }, async () => {
  const basePath = join(dir, 'base.gguf');
  await synthesizeModel(basePath, {
    arch: 'qwen2', nLayers: 1, dModel: 32, nHeads: 2, nKvHeads: 1, ffnDim: 64, vocabSize: 272, contextLength: 64,
    ropeTheta: 1e6, tiedEmbedding: false, weightType: 'q8_0', seed: 11, tokenizer: 'spm-bytes', slidingWindow: 32,
  });
  const base = readFileSync(basePath);
  assert.equal(await parseWithin(basePath), 'parsed');
  const fields = mapFields(base);
  const rng = new Xoshiro128(2024);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const anyU64 = () => (rng.next() < 0.7 ? pick(HUGE_U64) : BigInt(rng.nextU32()) * 2n ** 32n + BigInt(rng.nextU32()));

  const mutations: Array<[string, () => Buffer]> = [
    ['truncate', () => base.subarray(0, Math.floor(rng.next() ** 2 * base.length))],
    ['flip header bytes', () => {
      const b = Buffer.from(base);
      const flips = 1 + Math.floor(rng.next() * 8);
      for (let i = 0; i < flips; i++) b[Math.floor(rng.next() * fields.headerEnd)] ^= 1 << Math.floor(rng.next() * 8);
      return b;
    }],
    ['huge count or length', () => {
      const b = Buffer.from(base);
      b.writeBigUInt64LE(anyU64(), pick(rng.next() < 0.3 ? fields.counts : [...fields.lengths, ...fields.dims]));
      return b;
    }],
    ['bad value or tensor type', () => {
      const b = Buffer.from(base);
      const at = pick(rng.next() < 0.5 ? fields.valueTypes : [...fields.tensorTypes, ...fields.nDims]);
      b.writeUInt32LE(rng.next() < 0.5 ? Math.floor(rng.next() * 48) : rng.nextU32(), at);
      return b;
    }],
    ['bad tensor offset', () => {
      const b = Buffer.from(base);
      const at = pick(fields.tensorOffsets);
      const choice = rng.next();
      const value = choice < 0.4 ? anyU64() : choice < 0.7 ? BigInt(Math.floor(rng.next() * base.length)) : BigInt(32 * Math.floor(rng.next() * 200));
      b.writeBigUInt64LE(value, at);
      return b;
    }],
  ];

  const perKind = 400;
  const counts: Record<string, Record<Outcome, number>> = {};
  // Buffers live outside the JS heap: count both.
  const usedBytes = () => { const u = process.memoryUsage(); return u.heapUsed + u.arrayBuffers; };
  const heapBefore = usedBytes();
  let maxHeapGrowth = 0;
  let slowestMs = 0;
  const started = performance.now();
  const path = join(dir, 'mutant.gguf');
  for (const [kind, mutate] of mutations) {
    counts[kind] = { parsed: 0, ModelFormatError: 0 };
    for (let i = 0; i < perKind; i++) {
      writeFileSync(path, mutate());
      const t0 = performance.now();
      counts[kind][await parseWithin(path)]++;
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      maxHeapGrowth = Math.max(maxHeapGrowth, usedBytes() - heapBefore);
    }
  }
  const total = Object.values(counts).reduce((a, c) => a + c.parsed + c.ModelFormatError, 0);
  console.log(JSON.stringify({ total, counts, slowestMs: Math.round(slowestMs), maxHeapGrowthMB: Math.round(maxHeapGrowth / 2 ** 20), totalMs: Math.round(performance.now() - started) }));
  assert.ok(total >= 1000);
  assert.ok(maxHeapGrowth < HEAP_GROWTH_LIMIT_BYTES, `heap grew by ${maxHeapGrowth} bytes`);
  for (const kind of ['truncate', 'huge count or length', 'bad value or tensor type']) assert.ok(counts[kind].ModelFormatError > perKind / 4, `${kind} mostly rejected`);
});
