// Requantizing a model's matrices while they stream to the GPU: the self-speculation draft is the target's
// own weights at fewer bits. A tensor of any runnable type is read a few rows at a time, dequantized to f32
// and quantized again with the project's quantizers (bit for bit ggml's reference ones), so the draft is
// the model `tandem convert --type q4_0` would have written from the same values, with no file written
// and host memory bounded by one step of rows.

import { UnsupportedQuantError } from '../../common/errors';
import { readTensorBytes } from '../gguf/reader';
import { GgmlType, type GgufFile, type GgufTensorInfo } from '../gguf/types';
import { matrixType } from '../llama2c';
import { DTYPE_OF_GGML, ggufRowBytes } from '../repack';
import { dequantizeTensor, quantizeTensor } from './tensor';

/** The types a model can be requantized to at load. */
export type RequantDtype = 'q8_0' | 'q4_0';
export const REQUANT_GGML: Record<RequantDtype, GgmlType> = { q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };

/** f32 values converted per step: 4 MiB of f32 on the host, whatever the row length. */
const STEP_ELEMENTS = 1 << 20;

/** GGUF bytes of one row of `cols` values stored as `type`. */
export function ggmlRowBytes(type: GgmlType, cols: number, tensorName = '(tensor)'): number {
  if (type === GgmlType.BF16) return 2 * cols;
  const dtype = DTYPE_OF_GGML[type];
  if (!dtype) throw new UnsupportedQuantError(tensorName, GgmlType[type] ?? `type ${type}`);
  return ggufRowBytes(dtype, cols);
}

/**
 * The type a matrix of rows of `cols` values, stored as `from`, runs as when requantized to `to`: `to`
 * where rows are whole blocks, else F16 (as llama-quantize and our converter do); but a tensor whose rows
 * would not get smaller keeps its own type (a Q4_K matrix stays Q4_K under q8_0; a Q4_0 one stays Q4_0).
 */
export function requantizedType(from: GgmlType, cols: number, to: RequantDtype): GgmlType {
  const want = matrixType(REQUANT_GGML[to], cols);
  return ggmlRowBytes(want, cols) < ggmlRowBytes(from, cols) ? want : from;
}

/** A GGUF tensor the loader uploads as a matrix ([rows][cols], rows > 1): norms and biases are vectors. */
export function isMatrix(t: GgufTensorInfo): boolean {
  return t.dims.length >= 2 && t.dims[1] > 1;
}

/** Tensors a requantized load keeps as they are: a learned position embedding (llama.cpp's quantizer leaves it too). */
export const KEPT_BY_REQUANTIZE = new Set(['position_embd.weight']);

/** Weight bytes of `file` once its matrices are requantized to `to` (vectors and KEPT_BY_REQUANTIZE unchanged). */
export function requantizedWeightBytes(file: GgufFile, to: RequantDtype): number {
  return file.tensors.reduce((sum, t) => {
    if (!isMatrix(t) || KEPT_BY_REQUANTIZE.has(t.name)) return sum + t.byteSize;
    const cols = t.dims[0];
    const rows = t.elementCount / cols;
    return sum + rows * ggmlRowBytes(requantizedType(t.type, cols, to), cols, t.name);
  }, 0);
}

/**
 * Rows [rowStart, rowStart + rowCount) of `t` ([rows][cols], stored as t.type) as GGUF bytes of type `to`:
 * read, dequantized and quantized about `stepElements` values (whole rows) at a time. This is the loading
 * thread's version; RepackPool.requantize runs the same steps (requantizeSteps) on a worker thread.
 */
export function requantizedRows(file: GgufFile, t: GgufTensorInfo, cols: number, to: GgmlType, stepElements = STEP_ELEMENTS): (rowStart: number, rowCount: number) => Promise<Uint8Array> {
  const srcRowBytes = ggmlRowBytes(t.type, cols, t.name);
  const outRowBytes = ggmlRowBytes(to, cols, t.name);
  return async (rowStart, rowCount) => {
    const out = new Uint8Array(rowCount * outRowBytes);
    for (const step of requantizeSteps(cols, rowCount, stepElements)) {
      const raw = await readTensorBytes(file, t, (rowStart + step.row) * srcRowBytes, step.rows * srcRowBytes);
      requantizeStep(t.type, to, raw, step.rows * cols, out.subarray(step.row * outRowBytes, (step.row + step.rows) * outRowBytes), t.name);
    }
    return out;
  };
}

/** The steps of whole rows, about `stepElements` values each, that bound the f32 values held at once. */
export function* requantizeSteps(cols: number, rowCount: number, stepElements = STEP_ELEMENTS): Generator<{ row: number; rows: number }> {
  const rowsPerStep = Math.max(1, Math.floor(stepElements / cols));
  for (let row = 0; row < rowCount; row += rowsPerStep) yield { row, rows: Math.min(rowsPerStep, rowCount - row) };
}

/** `elements` values stored as `from` in `raw`, into `out` as `to`. */
export function requantizeStep(from: GgmlType, to: GgmlType, raw: Uint8Array, elements: number, out: Uint8Array, tensorName: string): void {
  out.set(quantizeTensor(to, dequantizeTensor(from, raw, elements, tensorName), tensorName));
}
