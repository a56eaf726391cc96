// Self-speculation's requantization, without a GPU: the rows the loader streams for an F32 stories260K
// requantized to Q4_0 / Q8_0 are byte for byte the tensors our converter writes into stories260K-q4_0/q8_0
// (quantizeQ4_0 / quantizeQ8_0 of the same values), in any row range and step size; the memory check
// counts the requantized bytes; the repack threads requantize the same bytes, and a file cut short under
// them is a ModelFormatError; a self draft of a model already that small is refused with a typed error.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K } from '../helpers/testModels';
import { openGguf, readTensorBytes } from '../../src/loaders/gguf/reader';
import { GgmlType, type GgufFile } from '../../src/loaders/gguf/types';
import { isMatrix, requantizedRows, requantizedType, requantizedWeightBytes, type RequantDtype } from '../../src/loaders/quant/requantize';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';
import { quantizeQ4_0 } from '../../src/loaders/quant/q4_0';
import { quantizeQ8_0 } from '../../src/loaders/quant/q8_0';
import { checkSelfDraft, parseSelfDraft, SelfDraftUnhelpfulError } from '../../src/engine/draftSelf';
import { parseDraftModelSource } from '../../src/engine/draftLoad';
import { ModelFormatError, UsageError } from '../../src/common/errors';
import { findRepackWorker, RepackPool } from '../../src/loaders/repackPool';

const files = new Map<string, Promise<GgufFile>>();
const pool = new RepackPool(findRepackWorker()!, 2);
after(() => pool.close());
const stories = (type: 'f32' | 'f16' | 'q8_0' | 'q4_0') => {
  if (!files.has(type)) files.set(type, ensureStories260K(type).then(openGguf));
  return files.get(type)!;
};

test('--draft / tandem.draftModel specs: self is self:q4_0, self:q8_0, a path; a bad self type is a usage error', () => {
  assert.equal(parseSelfDraft('self'), 'q4_0');
  assert.equal(parseSelfDraft('self:q8_0'), 'q8_0');
  assert.equal(parseSelfDraft('self:Q4_0'), 'q4_0');
  assert.equal(parseSelfDraft('/models/self.gguf'), undefined);
  assert.throws(() => parseSelfDraft('self:q5_k'), UsageError);
  assert.deepEqual(parseDraftModelSource('self:q8_0'), { kind: 'self', dtype: 'q8_0' });
  assert.deepEqual(parseDraftModelSource('draft.gguf'), { kind: 'file', path: 'draft.gguf' });
});

for (const dtype of ['q4_0', 'q8_0'] as RequantDtype[]) {
  test(`F32 stories260K requantized to ${dtype} while streaming equals our converter's ${dtype} file and quantize${dtype.toUpperCase()} of the values`, async () => {
    const f32 = await stories('f32');
    const quantized = await stories(dtype);
    const quantize = dtype === 'q4_0' ? quantizeQ4_0 : quantizeQ8_0;
    let matrices = 0;
    for (const t of f32.tensors.filter(isMatrix)) {
      const cols = t.dims[0];
      const rows = t.elementCount / cols;
      const want = quantized.tensors.find((x) => x.name === t.name)!;
      const to = requantizedType(t.type, cols, dtype);
      assert.equal(to, want.type, `${t.name}: type`);
      const wantBytes = await readTensorBytes(quantized, want);
      // Whole tensor in one call; then odd row ranges with one row per step (the chunk loop).
      const whole = await requantizedRows(f32, t, cols, to)(0, rows);
      assert.deepEqual(whole, wantBytes, `${t.name}: bytes`);
      if (to !== GgmlType.F16) assert.deepEqual(whole, quantize(dequantizeTensor(t.type, await readTensorBytes(f32, t), t.elementCount)), `${t.name}: quantizer`);
      const rowBytes = wantBytes.length / rows;
      const stepped = requantizedRows(f32, t, cols, to, 1);
      for (const [r, n] of [[0, 1], [3, 5], [rows - 7, 7]]) {
        assert.deepEqual(await stepped(r, n), wantBytes.subarray(r * rowBytes, (r + n) * rowBytes), `${t.name}: rows ${r}..${r + n}`);
      }
      // On a repack thread, which reads the rows from the file itself, into shared memory.
      for (const [r, n, stepElements] of [[0, rows, undefined], [3, 5, undefined], [0, rows, 3 * cols]] as [number, number, number | undefined][]) {
        const out = pool.shared.take(n * rowBytes);
        await pool.requantize({ path: f32.path, tensor: t.name, fileOffset: f32.dataOffset + t.offset + r * (t.byteSize / rows), from: t.type, to, cols, rows: n, stepElements }, out);
        assert.deepEqual(out, wantBytes.subarray(r * rowBytes, (r + n) * rowBytes), `${t.name}: rows ${r}..${r + n} on a thread`);
      }
      matrices++;
    }
    assert.ok(matrices >= 5 * 7 + 1, `${matrices} matrices`);
    // The memory check before upload counts what is uploaded: the converter's file, tensor for tensor.
    assert.equal(requantizedWeightBytes(f32, dtype), quantized.tensors.reduce((s, t) => s + t.byteSize, 0));
  });
}

test('rows that would not get smaller keep their type; rows of partial blocks fall back to F16', () => {
  assert.equal(requantizedType(GgmlType.F32, 64, 'q4_0'), GgmlType.Q4_0);
  assert.equal(requantizedType(GgmlType.BF16, 64, 'q8_0'), GgmlType.Q8_0);
  assert.equal(requantizedType(GgmlType.F32, 172, 'q4_0'), GgmlType.F16);
  assert.equal(requantizedType(GgmlType.F16, 172, 'q4_0'), GgmlType.F16);
  assert.equal(requantizedType(GgmlType.Q4_K, 256, 'q8_0'), GgmlType.Q4_K);
  assert.equal(requantizedType(GgmlType.Q4_0, 64, 'q4_0'), GgmlType.Q4_0);
  assert.equal(requantizedType(GgmlType.Q6_K, 256, 'q4_0'), GgmlType.Q4_0);
});

test('a self draft no smaller than the model is refused with SelfDraftUnhelpfulError saying why', async () => {
  for (const [type, dtype] of [['q4_0', 'q4_0'], ['q8_0', 'q8_0']] as const) {
    const file = await stories(type);
    assert.throws(() => checkSelfDraft(file, dtype), (e: unknown) => {
      assert.ok(e instanceof SelfDraftUnhelpfulError, String(e));
      assert.equal(e.code, 'USAGE');
      assert.match(e.message, new RegExp(`already ${dtype.toUpperCase()}-sized`));
      assert.ok(e.hint && /n-gram/.test(e.hint));
      return true;
    });
  }
  // Smaller: allowed.
  checkSelfDraft(await stories('q8_0'), 'q4_0');
  checkSelfDraft(await stories('f16'), 'q8_0');
  checkSelfDraft(await stories('f32'), 'q4_0');
});

test('rows a repack thread cannot read (the file was cut short after it was opened) are a ModelFormatError naming the tensor', async () => {
  const f32 = await stories('f32');
  const t = f32.tensors.filter(isMatrix)[0];
  const cols = t.dims[0];
  const rows = t.elementCount / cols;
  const out = pool.shared.take(rows * (cols / 32) * 18);
  // The same request with the rows placed past the end of the file, as a truncation would leave them.
  await assert.rejects(pool.requantize({ path: f32.path, tensor: t.name, fileOffset: f32.fileSize - 10, from: t.type, to: GgmlType.Q4_0, cols, rows }, out),
    (e: unknown) => e instanceof ModelFormatError && e.field === `tensor.${t.name}` && /file ended at byte/.test(e.message));
  assert.equal(pool.broken, null);
});
