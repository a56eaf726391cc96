// Q8_0: blocks of 32 values as { d: f16, qs: int8[32] } = 34 bytes; value = qs[j] * d.
// quantizeQ8_0 matches ggml's quantize_row_q8_0_ref bit for bit: every step is rounded to f32
// (Math.fround) as the C code computes in float, and roundf rounds halves away from zero.
import { f16BitsToF32, f32ToF16Bits } from './f16';

export const Q8_0_BLOCK_ELEMS = 32;
export const Q8_0_BLOCK_BYTES = 34;
const fr = Math.fround;

/** [n] f32 (n a multiple of 32) -> [n/32] Q8_0 blocks. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % Q8_0_BLOCK_ELEMS !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const nBlocks = x.length / Q8_0_BLOCK_ELEMS;
  const out = new Uint8Array(nBlocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < nBlocks; b++) {
    const base = b * Q8_0_BLOCK_ELEMS;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK_ELEMS; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < Q8_0_BLOCK_ELEMS; j++) {
      const v = fr(x[base + j] * id);
      const q = v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5); // roundf
      view.setInt8(at + 2 + j, q);
    }
  }
  return out;
}

/** [n/32] Q8_0 blocks -> [n] f32 (dequantize_row_q8_0). */
export function dequantizeQ8_0(bytes: Uint8Array, elementCount: number): Float32Array {
  if (elementCount % Q8_0_BLOCK_ELEMS !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${elementCount}`);
  const nBlocks = elementCount / Q8_0_BLOCK_ELEMS;
  if (bytes.length < nBlocks * Q8_0_BLOCK_BYTES) throw new RangeError(`Q8_0: ${bytes.length} bytes for ${nBlocks} blocks`);
  const out = new Float32Array(elementCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32(view.getUint16(at, true));
    for (let j = 0; j < Q8_0_BLOCK_ELEMS; j++) out[b * Q8_0_BLOCK_ELEMS + j] = view.getInt8(at + 2 + j) * d;
  }
  return out;
}
