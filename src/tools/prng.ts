// Seeded, fast pseudo-random numbers for synthetic weights: xoshiro128** seeded through splitmix32.
// Same seed, same stream, on every platform.

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `stream` separates independent sequences from one seed (e.g. one per tensor). */
  constructor(seed: number, stream = 0) {
    const st = { s: (seed ^ Math.imul(stream + 1, 0x27d4eb2d)) | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st) | 1; // the state must not be all zero
  }

  /** Uniform u32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /**
   * Fills `out` with zero-mean values of standard deviation `std` (uniform on [-std*sqrt(3), std*sqrt(3)]:
   * the right variance at a fraction of a Gaussian's cost), plus `mean`.
   */
  fill(out: Float32Array, std: number, mean = 0): Float32Array {
    const halfWidth = std * Math.sqrt(3);
    for (let i = 0; i < out.length; i++) out[i] = mean + (this.next() * 2 - 1) * halfWidth;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
