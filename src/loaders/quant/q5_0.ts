// Q5_0: blocks of 32 values as { d: f16, qh: u8[4], qs: u8[16] } = 22 bytes (block_q5_0 in
// ggml-common.h). Byte j of qs holds the low 4 bits of element j (low nibble) and of element j + 16
// (high nibble); bit j of the little-endian u32 qh is the fifth bit of element j (bits 16..31: elements
// 16..31). value = (q - 16) * d. llama.cpp stores rows that are not whole 256-weight superblocks (Qwen2.5
// 0.5B's d = 896) in Q5_0 where the K-quant preset asks for Q4_K.
// dequantizeQ5_0 matches dequantize_row_q5_0 and quantizeQ5_0 quantize_row_q5_0_ref, bit for bit.
import { f16BitsToF32, f32ToF16Bits } from './f16';

export const Q5_BLOCK_ELEMS = 32;
export const Q5_0_BLOCK_BYTES = 22;
const fr = Math.fround;

export function checkQ5Blocks(name: string, elementCount: number, bytes: Uint8Array | null, blockBytes: number): number {
  if (elementCount % Q5_BLOCK_ELEMS !== 0) throw new RangeError(`${name} needs a multiple of 32 values, got ${elementCount}`);
  const nBlocks = elementCount / Q5_BLOCK_ELEMS;
  if (bytes && bytes.length < nBlocks * blockBytes) throw new RangeError(`${name}: ${bytes.length} bytes for ${nBlocks} blocks`);
  return nBlocks;
}

/** The 5-bit quant of element j (0..31) of the block whose qh is at `qh` and qs at `qs`. */
export function q5At(bytes: Uint8Array, qh: number, qs: number, j: number): number {
  const nibble = j < 16 ? bytes[qs + j] & 0x0f : bytes[qs + j - 16] >> 4;
  return nibble | (((bytes[qh + (j >> 3)] >> (j & 7)) & 1) << 4);
}

/** Writes 32 5-bit quants as qh (4 bytes at `qh`) and qs (16 bytes at `qs`). */
export function packQ5(out: Uint8Array, qh: number, qs: number, q: ArrayLike<number>): void {
  for (let i = 0; i < 4; i++) out[qh + i] = 0;
  for (let j = 0; j < 16; j++) out[qs + j] = (q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4);
  for (let j = 0; j < 32; j++) out[qh + (j >> 3)] |= ((q[j] >> 4) & 1) << (j & 7);
}

/** [n/32] Q5_0 blocks -> [n] f32 (dequantize_row_q5_0). */
export function dequantizeQ5_0(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkQ5Blocks('Q5_0', elementCount, bytes, Q5_0_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q5_0_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = (q5At(bytes, at + 2, at + 6, j) - 16) * d;
  }
  return out;
}

/** [n] f32 (n a multiple of 32) -> [n/32] Q5_0 blocks (quantize_row_q5_0_ref: d = max / -16, q = min(31, trunc(x/d + 16.5))). */
export function quantizeQ5_0(x: Float32Array): Uint8Array {
  const nBlocks = checkQ5Blocks('Q5_0', x.length, null, Q5_0_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q5_0_BLOCK_BYTES);
  const q = new Array<number>(32);
  for (let b = 0; b < nBlocks; b++) {
    const base = b * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    for (let j = 0; j < 32; j++) q[j] = Math.min(31, Math.trunc(fr(fr(x[base + j] * id) + 16.5)));
    const at = b * Q5_0_BLOCK_BYTES;
    const h = f32ToF16Bits(d);
    out[at] = h & 0xff;
    out[at + 1] = h >> 8;
    packQ5(out, at + 2, at + 6, q);
  }
  return out;
}
