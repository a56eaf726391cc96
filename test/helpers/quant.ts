// Test helpers shared by the quantizer tests (test/unit/quant*.test.ts).
import { GgmlType } from '../../src/loaders/gguf/types';
import { dequantizeTensor, quantizeTensor } from '../../src/loaders/quant/tensor';
import { DTYPE_OF_GGML, gpuRowBytes, repackBlocks } from '../../src/loaders/repack';

/** Σ (dequantize(quantize(x)) - x)² / Σ x²: a quantizer's normalised round-trip error on x. */
export function roundTripNmse(type: GgmlType, x: Float32Array): number {
  const y = dequantizeTensor(type, quantizeTensor(type, x), x.length);
  let se = 0;
  let ss = 0;
  for (let i = 0; i < x.length; i++) {
    se += (y[i] - x[i]) ** 2;
    ss += x[i] ** 2;
  }
  return se / ss;
}

/** x quantized as `type` (one row), and that row repacked into the GPU layout's quants and scales. */
export function repackedRow(type: GgmlType, x: Float32Array): { src: Uint8Array; data: Uint8Array; scales: Uint8Array } {
  const dtype = DTYPE_OF_GGML[type]!;
  const src = quantizeTensor(type, x);
  const sizes = gpuRowBytes(dtype, x.length);
  const data = new Uint8Array(sizes.data);
  const scales = new Uint8Array(sizes.scales);
  repackBlocks(dtype, src, data, scales);
  return { src, data, scales };
}
