// Decode matrix-vector kernels alone: the weight bytes each reads per second, against the device's
// streaming bandwidth measured in the same process. Real projection shapes, random weights (the values
// do not change the speed); many dispatches in one submit, timed by the wall clock around it, so the
// figure includes the barrier between dispatches that a real decode step also pays.

import type { Gpu } from '../gpu/device';
import { BufferOwner } from '../gpu/buffers';
import { uploadMatrix } from '../gpu/matrix';
import { ggufRowBytes, GPU_LAYOUT, type WeightDtype } from '../loaders/repack';
import { OpContext } from '../ops/context';
import { MatmulOp, type MatvecKind } from '../ops/matmul';

export interface MatvecShape {
  name: string;
  rows: number;
  cols: number;
}

export interface MatvecResult {
  dtype: WeightDtype;
  shape: MatvecShape;
  matvec: MatvecKind;
  weightBytes: number;
  bytesPerS: number;
  usPerDispatch: number;
}

/** GGUF-layout bytes for `rows` rows: random quants, block scales of 1/64 (finite, so no NaN paths). */
function randomRows(dtype: WeightDtype, rows: number, cols: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(rows * ggufRowBytes(dtype, cols));
  let s = seed >>> 0;
  for (let i = 0; i < bytes.length; i += 4) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    bytes[i] = s & 0x3f; bytes[i + 1] = (s >>> 8) & 0x3f; bytes[i + 2] = (s >>> 16) & 0x3f; bytes[i + 3] = (s >>> 24) & 0x3f;
  }
  const l = GPU_LAYOUT[dtype];
  if (l.scaleBlockBytes) {
    for (let b = 0; b < bytes.length; b += l.ggufBlockBytes) { bytes[b] = 0x00; bytes[b + 1] = 0x24; } // f16 1/64
  }
  return bytes;
}

export async function benchMatvec(gpu: Gpu, dtype: WeightDtype, shape: MatvecShape, matvec: MatvecKind, dispatches = 40): Promise<MatvecResult> {
  const ctx = new OpContext(gpu, `bench-matvec-${dtype}`);
  const owner = new BufferOwner(gpu.device, 'bench');
  try {
    const weight = await uploadMatrix(ctx.owner, dtype, shape.rows, shape.cols,
      async (r, n) => randomRows(dtype, n, shape.cols, r + 1), shape.name);
    const x = owner.storageFrom(new Float32Array(shape.cols).fill(0.01), 'x');
    const y = owner.storage(shape.rows * 4, 'y');
    const op = new MatmulOp(ctx, { weight, x, y, yStride: shape.rows, label: shape.name }, matvec);
    ctx.writeStep(1, 0, 1);
    const run = async (n: number) => {
      const enc = gpu.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < n; i++) op.encode(pass, 1);
      pass.end();
      gpu.device.queue.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
    };
    await run(2);
    const t0 = performance.now();
    await run(dispatches);
    const s = (performance.now() - t0) / 1000;
    return { dtype, shape, matvec, weightBytes: weight.bytes, bytesPerS: (weight.bytes * dispatches) / s, usPerDispatch: (s / dispatches) * 1e6 };
  } finally {
    owner.dispose();
    ctx.dispose();
  }
}

/** Qwen2.5-Coder-0.5B's decode projections (and the output head over its vocabulary). */
export const QWEN05B_SHAPES: MatvecShape[] = [
  { name: 'qkv 1152x896', rows: 1152, cols: 896 },
  { name: 'gate_up 9728x896', rows: 9728, cols: 896 },
  { name: 'down 896x4864', rows: 896, cols: 4864 },
  { name: 'output 151936x896', rows: 151936, cols: 896 },
];

/**
 * Qwen2.5-Coder-1.5B's (d 1536, 12 / 2 heads of 128, ffn 8960): the shapes for the K-quants, whose rows
 * must be whole 256-weight superblocks (0.5B's 896 is not; llama-quantize stores those rows otherwise).
 */
export const QWEN15B_SHAPES: MatvecShape[] = [
  { name: 'qkv 2048x1536', rows: 2048, cols: 1536 },
  { name: 'gate_up 17920x1536', rows: 17920, cols: 1536 },
  { name: 'down 1536x8960', rows: 1536, cols: 8960 },
  { name: 'output 151936x1536', rows: 151936, cols: 1536 },
];

/** The shapes `dtype` is measured on: 0.5B's where its rows fit the dtype's blocks, else 1.5B's. */
export function matvecShapesOf(dtype: WeightDtype): MatvecShape[] {
  return QWEN05B_SHAPES.every((s) => s.cols % GPU_LAYOUT[dtype].colMultiple === 0) ? QWEN05B_SHAPES : QWEN15B_SHAPES;
}
