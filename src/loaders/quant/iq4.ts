// IQ4_NL and IQ4_XS: 4-bit indices into ggml's non-linear table kvalues_iq4nl (16 int8 values, denser
// near zero). A 16-byte run of qs holds 32 weights: byte j has weight j in its low nibble and weight
// j + 16 in its high nibble (as Q4_0).
//   IQ4_NL (block_iq4_nl, 18 bytes per 32): { d: f16, qs: u8[16] }; value = d * kvalues[q].
//   IQ4_XS (block_iq4_xs, 136 bytes per 256): { d: f16, scales_h: u16, scales_l: u8[4], qs: u8[128] };
//   sub-block ib (32 weights, qs[16ib..16ib+15]) has the 6-bit scale ls = low 4 bits from nibble ib%2 of
//   scales_l[ib/2], top 2 bits from bits 2ib of scales_h; value = (d * (ls - 32)) * kvalues[q].
// The dequantisers match dequantize_row_iq4_nl / dequantize_row_iq4_xs bit for bit. The quantizers pick
// a scale from the largest-magnitude value (d = max / -127, as ggml's first guess) and the nearest table
// entry (not ggml's search over scales, but valid blocks).
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, QK_K, roundf } from './kquants';

/** kvalues_iq4nl (ggml-common.h). */
export const IQ4NL_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
export const IQ4_NL_BLOCK_BYTES = 18;
export const IQ4_XS_BLOCK_BYTES = 136;
const fr = Math.fround;

/** [n/32] IQ4_NL blocks -> [n] f32. */
export function dequantizeIQ4_NL(bytes: Uint8Array, elementCount: number): Float32Array {
  if (elementCount % 32 !== 0) throw new RangeError(`IQ4_NL needs a multiple of 32 values, got ${elementCount}`);
  const nBlocks = elementCount / 32;
  if (bytes.length < nBlocks * IQ4_NL_BLOCK_BYTES) throw new RangeError(`IQ4_NL: ${bytes.length} bytes for ${nBlocks} blocks`);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * IQ4_NL_BLOCK_BYTES;
    unpackRun(bytes, at + 2, f16BitsToF32(bytes[at] | (bytes[at + 1] << 8)), out, 32 * b);
  }
  return out;
}

/** [n/256] IQ4_XS blocks -> [n] f32. */
export function dequantizeIQ4_XS(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('IQ4_XS', elementCount, bytes, IQ4_XS_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * IQ4_XS_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    const scales = iq4xsScales(bytes, at);
    for (let ib = 0; ib < 8; ib++) unpackRun(bytes, at + 8 + 16 * ib, fr(d * scales[ib]), out, QK_K * b + 32 * ib);
  }
  return out;
}

/** The 8 signed sub-block scales (ls - 32, -32..31) of the IQ4_XS block at `at`, into out[outAt ..]. */
export function iq4xsScales(bytes: Uint8Array, at: number, out: Int8Array = new Int8Array(8), outAt = 0): Int8Array {
  const h = bytes[at + 2] | (bytes[at + 3] << 8);
  for (let ib = 0; ib < 8; ib++) out[outAt + ib] = (((bytes[at + 4 + (ib >> 1)] >> (4 * (ib % 2))) & 0x0f) | (((h >> (2 * ib)) & 3) << 4)) - 32;
  return out;
}

/** 32 weights of a 16-byte qs run at `qs`: out[o + j] = dl * kvalues[low nibble of byte j], out[o + j + 16] the high. */
function unpackRun(bytes: Uint8Array, qs: number, dl: number, out: Float32Array, o: number): void {
  for (let j = 0; j < 16; j++) {
    out[o + j] = fr(dl * IQ4NL_VALUES[bytes[qs + j] & 0x0f]);
    out[o + j + 16] = fr(dl * IQ4NL_VALUES[bytes[qs + j] >> 4]);
  }
}

/** The index of the table entry nearest v. */
function nearestIndex(v: number): number {
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(IQ4NL_VALUES[i] - v) < Math.abs(IQ4NL_VALUES[best] - v)) best = i;
  return best;
}

/** The value of largest magnitude among x[base .. base + n), sign kept (first one on ties). */
function signedMax(x: Float32Array, base: number, n: number): number {
  let max = 0;
  for (let j = 0; j < n; j++) if (Math.abs(x[base + j]) > Math.abs(max)) max = x[base + j];
  return max;
}

/** Writes the 32 weights x[base..base+32) as table indices against scale dl into the 16 bytes at `qs`. */
function packRun(x: Float32Array, base: number, dl: number, out: Uint8Array, qs: number): void {
  const q = (v: number) => (dl !== 0 ? nearestIndex(v / dl) : 8);
  for (let j = 0; j < 16; j++) out[qs + j] = q(x[base + j]) | (q(x[base + j + 16]) << 4);
}

/** [n] f32 (n a multiple of 32) -> [n/32] IQ4_NL blocks. */
export function quantizeIQ4_NL(x: Float32Array): Uint8Array {
  if (x.length % 32 !== 0) throw new RangeError(`IQ4_NL needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * IQ4_NL_BLOCK_BYTES);
  for (let b = 0; b < x.length / 32; b++) {
    const at = b * IQ4_NL_BLOCK_BYTES;
    const dBits = f32ToF16Bits(signedMax(x, 32 * b, 32) / IQ4NL_VALUES[0]);
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >> 8;
    packRun(x, 32 * b, f16BitsToF32(dBits), out, at + 2);
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] IQ4_XS blocks. */
export function quantizeIQ4_XS(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('IQ4_XS', x.length, null, IQ4_XS_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * IQ4_XS_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * IQ4_XS_BLOCK_BYTES;
    const base = QK_K * b;
    // Per sub-block a signed scale (its largest-magnitude value maps to kvalues[0] = -127), then the
    // scales as 6 bits (-32..31) against d = max |scale| / 32.
    const scale = Array.from({ length: 8 }, (_, ib) => signedMax(x, base + 32 * ib, 32) / IQ4NL_VALUES[0]);
    const dBits = f32ToF16Bits(Math.max(...scale.map(Math.abs)) / 32);
    const d = f16BitsToF32(dBits);
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >> 8;
    let h = 0;
    for (let ib = 0; ib < 8; ib++) {
      const ls = (d > 0 ? Math.max(-32, Math.min(31, roundf(scale[ib] / d))) : 0) + 32;
      out[at + 4 + (ib >> 1)] |= (ls & 0x0f) << (4 * (ib % 2));
      h |= (ls >> 4) << (2 * ib);
      packRun(x, base + 32 * ib, fr(d * (ls - 32)), out, at + 8 + 16 * ib);
    }
    out[at + 2] = h & 0xff;
    out[at + 3] = h >> 8;
  }
  return out;
}
