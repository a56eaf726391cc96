// Q4_0: blocks of 32 values as { d: f16, qs: u8[16] } = 18 bytes. Byte j holds element j in its low
// nibble and element j+16 in its high nibble; value = (q - 8) * d.
// quantizeQ4_0 matches ggml's quantize_row_q4_0_ref bit for bit: d = max / -8 where max is the
// first element of largest magnitude (sign kept), q = min(15, trunc(x/d + 8.5)) in f32 arithmetic.
import { f16BitsToF32, f32ToF16Bits } from './f16';

export const Q4_0_BLOCK_ELEMS = 32;
export const Q4_0_BLOCK_BYTES = 18;
const fr = Math.fround;

/** [n] f32 (n a multiple of 32) -> [n/32] Q4_0 blocks. */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  if (x.length % Q4_0_BLOCK_ELEMS !== 0) throw new RangeError(`Q4_0 needs a multiple of 32 values, got ${x.length}`);
  const nBlocks = x.length / Q4_0_BLOCK_ELEMS;
  const out = new Uint8Array(nBlocks * Q4_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < nBlocks; b++) {
    const base = b * Q4_0_BLOCK_ELEMS;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < Q4_0_BLOCK_ELEMS; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    const at = b * Q4_0_BLOCK_BYTES;
    view.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < Q4_0_BLOCK_ELEMS / 2; j++) {
      const x0 = fr(x[base + j] * id);
      const x1 = fr(x[base + 16 + j] * id);
      const q0 = Math.min(15, Math.trunc(fr(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(x1 + 8.5)));
      out[at + 2 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    }
  }
  return out;
}

/** [n/32] Q4_0 blocks -> [n] f32 (dequantize_row_q4_0). */
export function dequantizeQ4_0(bytes: Uint8Array, elementCount: number): Float32Array {
  if (elementCount % Q4_0_BLOCK_ELEMS !== 0) throw new RangeError(`Q4_0 needs a multiple of 32 values, got ${elementCount}`);
  const nBlocks = elementCount / Q4_0_BLOCK_ELEMS;
  if (bytes.length < nBlocks * Q4_0_BLOCK_BYTES) throw new RangeError(`Q4_0: ${bytes.length} bytes for ${nBlocks} blocks`);
  const out = new Float32Array(elementCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q4_0_BLOCK_BYTES;
    const d = f16BitsToF32(view.getUint16(at, true));
    const base = b * Q4_0_BLOCK_ELEMS;
    for (let j = 0; j < Q4_0_BLOCK_ELEMS / 2; j++) {
      const q = bytes[at + 2 + j];
      out[base + j] = ((q & 0x0f) - 8) * d;
      out[base + 16 + j] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}
