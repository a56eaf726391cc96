// The repack's word-at-a-time loops (src/loaders/repackBlocks.ts) against a field-by-field reference
// written from the layouts in src/loaders/repack.ts, on random blocks (every bit pattern, f16 NaN and
// infinity included) read from every source alignment, into destinations at an offset in a larger array.
// What each field means to a kernel is checked per type in test/unit/quant*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f16BitsToF32 } from '../../src/loaders/quant/f16';
import { iq4xsScales } from '../../src/loaders/quant/iq4';
import { unpackQ3_KScales } from '../../src/loaders/quant/q3_k';
import { GPU_LAYOUT, isQuantized, repackBlocks, type WeightDtype } from '../../src/loaders/repack';
import { Xoshiro128 } from '../../src/tools/prng';
import { alignTo } from '../../src/gpu/buffers';

/** One block: copies of byte runs, and the fields that change form (f16 -> f32, 6-bit scales -> int8). */
function referenceBlock(dtype: WeightDtype, src: Uint8Array, data: Uint8Array, scales: Uint8Array): void {
  const sv = new DataView(scales.buffer, scales.byteOffset, scales.byteLength);
  const i8 = new Int8Array(scales.buffer, scales.byteOffset, scales.byteLength);
  const f16 = (at: number) => f16BitsToF32(src[at] | (src[at + 1] << 8));
  const run = (from: number, len: number, to: Uint8Array, at: number) => to.set(src.subarray(from, from + len), at);
  switch (dtype) {
    case 'q8_0': case 'q4_0': case 'iq4_nl': run(0, 2, scales, 0); run(2, data.length, data, 0); break;
    case 'q5_0': run(0, 2, scales, 0); run(2, 4, scales, 4); run(6, 16, data, 0); break;
    case 'q4_1': run(0, 4, scales, 0); run(4, 16, data, 0); break;
    case 'q5_1': run(0, 8, scales, 0); run(8, 16, data, 0); break;
    case 'q4_k': case 'q5_k': run(0, 16, scales, 0); run(16, data.length, data, 0); break;
    case 'q6_k': run(0, 192, data, 0); run(192, 16, scales, 0); sv.setFloat32(16, f16(208), true); break;
    case 'q3_k': run(0, 96, data, 0); unpackQ3_KScales(src, 96, i8, 0); sv.setFloat32(16, f16(108), true); break;
    case 'q2_k': run(16, 64, data, 0); run(0, 16, scales, 0); sv.setFloat32(16, f16(80), true); sv.setFloat32(20, f16(82), true); break;
    case 'iq4_xs': run(8, 128, data, 0); iq4xsScales(src, 0, i8, 0); sv.setFloat32(8, f16(0), true); break;
    default: throw new Error(dtype);
  }
}

/** Float fields compared as values where both are NaN (the payload of a NaN is not a layout question). */
function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const w = i & ~3;
    const fa = new DataView(a.buffer, a.byteOffset + w, 4).getFloat32(0, true);
    const fb = new DataView(b.buffer, b.byteOffset + w, 4).getFloat32(0, true);
    assert.ok(Number.isNaN(fa) && Number.isNaN(fb), `${what}: byte ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

const QUANTIZED = (Object.keys(GPU_LAYOUT) as WeightDtype[]).filter(isQuantized);

for (const dtype of QUANTIZED) {
  test(`repack ${dtype}: the word loops equal the field-by-field reference from every source alignment`, () => {
    const l = GPU_LAYOUT[dtype];
    const rng = new Xoshiro128(7);
    const nBlocks = 37; // odd: f16-scale layouts end mid-word
    for (const misalign of [0, 1, 2, 3]) {
      const backing = new Uint8Array(misalign + nBlocks * l.ggufBlockBytes);
      for (let i = 0; i < backing.length; i++) backing[i] = Math.floor(rng.next() * 256);
      const src = backing.subarray(misalign);
      // Destinations 8 bytes into larger arrays, with guard bytes after them that must stay untouched.
      const dataBacking = new Uint8Array(8 + nBlocks * l.dataBlockBytes + 8).fill(0xa5);
      const scaleBytes = alignTo(nBlocks * l.scaleBlockBytes, 4);
      const scaleBacking = new Uint8Array(8 + scaleBytes + 8).fill(0xa5);
      const data = dataBacking.subarray(8, 8 + nBlocks * l.dataBlockBytes);
      const scales = scaleBacking.subarray(8, 8 + scaleBytes);
      repackBlocks(dtype, src, data, scales);
      for (let b = 0; b < nBlocks; b++) {
        const wantData = new Uint8Array(l.dataBlockBytes);
        const wantScales = new Uint8Array(l.scaleBlockBytes);
        referenceBlock(dtype, src.subarray(b * l.ggufBlockBytes, (b + 1) * l.ggufBlockBytes), wantData, wantScales);
        const at = `misalign ${misalign}, block ${b}`;
        sameBytes(data.subarray(b * l.dataBlockBytes, (b + 1) * l.dataBlockBytes), wantData, `${at} data`);
        sameBytes(scales.subarray(b * l.scaleBlockBytes, (b + 1) * l.scaleBlockBytes), wantScales, `${at} scales`);
      }
      assert.ok(dataBacking.subarray(0, 8).every((x) => x === 0xa5) && dataBacking.subarray(8 + data.length).every((x) => x === 0xa5), 'data guard bytes');
      assert.ok(scaleBacking.subarray(0, 8).every((x) => x === 0xa5) && scaleBacking.subarray(8 + scales.length).every((x) => x === 0xa5), 'scale guard bytes');
    }
  });
}

test('repack refuses a destination that is not 4-byte aligned', () => {
  const l = GPU_LAYOUT.q4_k;
  const data = new Uint8Array(l.dataBlockBytes + 2).subarray(2);
  assert.throws(() => repackBlocks('q4_k', new Uint8Array(l.ggufBlockBytes), data, new Uint8Array(l.scaleBlockBytes)), /not 4-byte aligned/);
});
