// Small helpers shared by the kernel tests: a seeded PRNG, random data, upload / read back, one-pass
// dispatch with validation errors surfaced, and error metrics against a CPU reference.

import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { BufferOwner, readBuffer } from '../../src/gpu/buffers';
import { uploadMatrix, type GpuMatrix } from '../../src/gpu/matrix';
import type { WeightDtype } from '../../src/loaders/repack';
import { GgmlType } from '../../src/loaders/gguf/types';
import { dequantizeTensor, quantizeTensor } from '../../src/loaders/quant/tensor';

// ---------------------------------------------------------------------------------------------------
// Random numbers

/** mulberry32: a seeded uniform [0, 1) generator, so a failing shape reproduces from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale). */
export function randomF32(r: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * r() - 1) * scale;
  return out;
}

export function randomInt(r: () => number, lo: number, hiExclusive: number): number {
  return lo + Math.floor(r() * (hiExclusive - lo));
}

/** Fisher-Yates shuffle of 0..n-1. */
export function permutation(r: () => number, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------
// GPU plumbing

export async function readF32(gpu: Gpu, buf: GPUBuffer, n: number, offsetElems = 0): Promise<Float32Array> {
  return new Float32Array(await readBuffer(gpu.device, buf, n * 4, offsetElems * 4));
}

export async function readU32(gpu: Gpu, buf: GPUBuffer, n: number): Promise<Uint32Array> {
  return new Uint32Array(await readBuffer(gpu.device, buf, n * 4));
}

/**
 * Encodes one compute pass with `body` and submits it, failing on any validation or out-of-memory
 * error the device reports for it (a kernel that does not compile or binds wrongly fails here).
 */
export async function runPass(gpu: Gpu, body: (pass: GPUComputePassEncoder) => void): Promise<void> {
  const device = gpu.device;
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const encoder = device.createCommandEncoder({ label: 'kernel-test' });
  const pass = encoder.beginComputePass({ label: 'kernel-test' });
  body(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const oom = await device.popErrorScope();
  const validation = await device.popErrorScope();
  await device.queue.onSubmittedWorkDone();
  const late = gpu.takeErrors();
  const errors = [oom?.message, validation?.message, ...late].filter((m): m is string => !!m);
  if (errors.length) throw new Error(`GPU errors: ${errors.join('; ')}`);
}

/** Wraps op construction (pipeline creation) so a shader compile error fails the test with its message. */
export async function checked<T>(gpu: Gpu, make: () => T): Promise<T> {
  gpu.device.pushErrorScope('validation');
  const value = make();
  const err = await gpu.device.popErrorScope();
  if (err) throw new Error(`GPU validation error: ${err.message}`);
  return value;
}

export const GGML_OF_DTYPE: Record<WeightDtype, GgmlType> = {
  f32: GgmlType.F32, f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0, q4_1: GgmlType.Q4_1, q5_0: GgmlType.Q5_0, q5_1: GgmlType.Q5_1,
  q2_k: GgmlType.Q2_K, q3_k: GgmlType.Q3_K, q4_k: GgmlType.Q4_K, q5_k: GgmlType.Q5_K, q6_k: GgmlType.Q6_K,
  iq4_nl: GgmlType.IQ4_NL, iq4_xs: GgmlType.IQ4_XS,
};

export const DTYPES: readonly WeightDtype[] = ['f32', 'f16', 'q8_0', 'q4_0'];
/** The K-quants (rows of whole 256-weight superblocks): their own shapes in matmul-k.test.ts. */
export const K_DTYPES: readonly WeightDtype[] = ['q4_k', 'q5_k', 'q6_k', 'q2_k', 'q3_k', 'iq4_xs'];
/**
 * Q5_0/Q5_1/IQ4_NL (llama.cpp's fallbacks for K-quant and IQ4_XS rows that are not whole superblocks) and
 * Q4_1 (a legacy type of whole files): blocks of 32 with more than a scale, matmul-q5.test.ts.
 */
export const FALLBACK32_DTYPES: readonly WeightDtype[] = ['q5_0', 'q5_1', 'iq4_nl', 'q4_1'];

/**
 * A random [rows][cols] weight stored as `dtype` (ggml's quantizers), uploaded in chunks of at most
 * maxChunkBytes; `values` are the dequantised weights the GPU actually multiplies by.
 */
export async function randomMatrix(
  owner: BufferOwner, r: () => number, dtype: WeightDtype, rows: number, cols: number, maxChunkBytes?: number,
): Promise<{ matrix: GpuMatrix; values: Float32Array }> {
  const type = GGML_OF_DTYPE[dtype];
  const bytes = quantizeTensor(type, randomF32(r, rows * cols));
  const values = dequantizeTensor(type, bytes, rows * cols);
  const rowBytes = bytes.byteLength / rows;
  const matrix = await uploadMatrix(owner, dtype, rows, cols,
    async (start, count) => bytes.subarray(start * rowBytes, (start + count) * rowBytes), `w.${dtype}.${rows}x${cols}`, maxChunkBytes);
  return { matrix, values };
}

// ---------------------------------------------------------------------------------------------------
// Comparison

export interface ErrorStats {
  /** Σ(got - want)² / Σ want². */
  nmse: number;
  maxAbs: number;
  /** max |got - want| / scale[i] (scale defaults to max |want|). */
  maxRel: number;
}

/**
 * Compares element-wise; `scale[i]` is the magnitude an f32 computation of element i can be expected
 * to be exact to relative 1 (for a dot product: Σ|x w|), so maxRel is a rounding-error bound.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, scale?: ArrayLike<number>): ErrorStats {
  assert.equal(got.length, want.length, 'length');
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let wantMax = 0;
  for (let i = 0; i < want.length; i++) wantMax = Math.max(wantMax, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    if (Number.isNaN(d)) return { nmse: NaN, maxAbs: NaN, maxRel: NaN };
    num += d * d;
    den += want[i] * want[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    const s = scale ? scale[i] : wantMax;
    maxRel = Math.max(maxRel, Math.abs(d) / (s > 0 ? s : 1));
  }
  return { nmse: den > 0 ? num / den : num, maxAbs, maxRel };
}

/** Asserts maxRel <= bound (NaN fails); the message names the shape. */
export function assertClose(stats: ErrorStats, bound: number, what: string): void {
  assert.ok(stats.maxRel <= bound, `${what}: maxRel ${stats.maxRel.toExponential(3)} > ${bound} (nmse ${stats.nmse.toExponential(3)}, maxAbs ${stats.maxAbs.toExponential(3)})`);
}

/** Index and values of the first mismatch, for messages. */
export function firstMismatch(got: ArrayLike<number>, want: ArrayLike<number>): string {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) return `first mismatch at ${i}: got ${got[i]}, want ${want[i]}`;
  }
  return 'equal';
}

/** Worst error seen per key (a dtype, an op) for the summary line each test file prints. */
export class WorstErrors {
  private readonly worst = new Map<string, ErrorStats & { count: number }>();

  add(key: string, s: ErrorStats): void {
    const w = this.worst.get(key) ?? { nmse: 0, maxAbs: 0, maxRel: 0, count: 0 };
    this.worst.set(key, {
      nmse: Math.max(w.nmse, s.nmse), maxAbs: Math.max(w.maxAbs, s.maxAbs), maxRel: Math.max(w.maxRel, s.maxRel), count: w.count + 1,
    });
  }

  summary(): string {
    return [...this.worst].map(([k, s]) =>
      `${k}: ${s.count} checks, maxRel ${s.maxRel.toExponential(2)}, nmse ${s.nmse.toExponential(2)}, maxAbs ${s.maxAbs.toExponential(2)}`).join('\n');
  }
}
