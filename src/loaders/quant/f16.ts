// Half-precision conversions, bit-exact with ggml: f32 -> f16 rounds to nearest even (subnormals kept,
// overflow to inf, NaN to the canonical quiet NaN 0x7e00 like ggml's portable path); f32 -> bf16
// rounds to nearest even on the top 16 bits (ggml_compute_fp32_to_bf16).

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of the f32 nearest to x (x is first rounded to f32). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp32 = (bits >>> 23) & 0xff;
  const mant32 = bits & 0x7fffff;
  if (exp32 === 0xff) return sign | (mant32 !== 0 ? 0x7e00 : 0x7c00);
  const exp16 = exp32 - 127 + 15;
  if (exp16 >= 0x1f) return sign | 0x7c00;
  if (exp16 <= 0) {
    // Subnormal half: value = m * 2^(exp32 - 150) with the implicit bit; in units of 2^-24 that is m >> shift.
    if (exp16 < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant32 | 0x800000;
    const shift = 14 - exp16;
    const half = 1 << (shift - 1);
    const rem = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rem > half || (rem === half && (h & 1) === 1)) h += 1; // a carry into 0x400 is the smallest normal
    return sign | h;
  }
  let h = (exp16 << 10) | (mant32 >>> 13);
  const rem = mant32 & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h += 1; // a carry may reach 0x7c00 = inf
  return sign | h;
}

/** The value of IEEE binary16 bits, computed (exact). */
function f16BitsValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

let f16Table: Float32Array | null = null;

/**
 * [65536] the f32 value of every f16 bit pattern (256 KiB, built on first use). Every f16 is exact
 * in f32; a lookup costs 3-10 ns where the computation's 2 ** x cost ~70 (once per 32 values, ~2 of
 * the ~15 ns a value that a Q8_0 -> Q4_0 requantize costs).
 */
export function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsValue(h);
  }
  return f16Table;
}

/** The f32 value of IEEE binary16 bits (exact). */
export function f16BitsToF32(h: number): number {
  return (f16Table ?? f16ToF32Table())[h & 0xffff];
}

/** bfloat16 bits of x: the top half of its f32 bits, rounded to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0];
}

/** [n] f32 -> [n] f16 little-endian bytes. */
export function f32ArrayToF16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return new Uint8Array(out.buffer);
}

export function f32ArrayToBf16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]);
  return new Uint8Array(out.buffer);
}
