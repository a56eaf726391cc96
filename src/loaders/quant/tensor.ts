// Whole-tensor conversions between f32 and the storage types Tandem runs (F32, F16, BF16, Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, and IQ4_NL, IQ4_XS).
import { UnsupportedQuantError } from '../../common/errors';
import { GgmlType } from '../gguf/types';
import { bf16BitsToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16 } from './f16';
import { dequantizeIQ4_NL, dequantizeIQ4_XS, quantizeIQ4_NL, quantizeIQ4_XS } from './iq4';
import { dequantizeQ2_K, quantizeQ2_K } from './q2_k';
import { dequantizeQ3_K, quantizeQ3_K } from './q3_k';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4_0';
import { dequantizeQ4_1, quantizeQ4_1 } from './q4_1';
import { dequantizeQ4_K, quantizeQ4_K } from './q4_k';
import { dequantizeQ5_0, quantizeQ5_0 } from './q5_0';
import { dequantizeQ5_1, quantizeQ5_1 } from './q5_1';
import { dequantizeQ5_K, quantizeQ5_K } from './q5_k';
import { dequantizeQ6_K, quantizeQ6_K } from './q6_k';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8_0';

export const RUNNABLE_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
  GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS];

function typeName(type: GgmlType): string {
  return GgmlType[type] ?? `type ${type}`;
}

/** [elementCount] values stored as `type` -> f32. `tensorName` only labels the error. */
export function dequantizeTensor(type: GgmlType, bytes: Uint8Array, elementCount: number, tensorName = '(tensor)'): Float32Array {
  const need = (bytesPerElem: number) => {
    if (bytes.length < elementCount * bytesPerElem) {
      throw new RangeError(`${tensorName}: ${bytes.length} bytes for ${elementCount} ${typeName(type)} values`);
    }
  };
  switch (type) {
    case GgmlType.F32: {
      need(4);
      // Copy: the source may not be 4-byte aligned.
      const out = new Float32Array(elementCount);
      new Uint8Array(out.buffer).set(bytes.subarray(0, elementCount * 4));
      return out;
    }
    case GgmlType.F16:
    case GgmlType.BF16: {
      need(2);
      const out = new Float32Array(elementCount);
      const conv = type === GgmlType.F16 ? f16BitsToF32 : bf16BitsToF32;
      for (let i = 0; i < elementCount; i++) out[i] = conv(bytes[2 * i] | (bytes[2 * i + 1] << 8));
      return out;
    }
    case GgmlType.Q8_0: return dequantizeQ8_0(bytes, elementCount);
    case GgmlType.Q4_0: return dequantizeQ4_0(bytes, elementCount);
    case GgmlType.Q4_1: return dequantizeQ4_1(bytes, elementCount);
    case GgmlType.Q5_0: return dequantizeQ5_0(bytes, elementCount);
    case GgmlType.Q5_1: return dequantizeQ5_1(bytes, elementCount);
    case GgmlType.Q2_K: return dequantizeQ2_K(bytes, elementCount);
    case GgmlType.Q3_K: return dequantizeQ3_K(bytes, elementCount);
    case GgmlType.Q4_K: return dequantizeQ4_K(bytes, elementCount);
    case GgmlType.Q5_K: return dequantizeQ5_K(bytes, elementCount);
    case GgmlType.Q6_K: return dequantizeQ6_K(bytes, elementCount);
    case GgmlType.IQ4_NL: return dequantizeIQ4_NL(bytes, elementCount);
    case GgmlType.IQ4_XS: return dequantizeIQ4_XS(bytes, elementCount);
    default: throw new UnsupportedQuantError(tensorName, typeName(type));
  }
}

/**
 * f32 values -> bytes stored as `type` (ggml's reference quantizers for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1; round-to-nearest
 * K-quant blocks that ggml reads the same way but that its search-based quantizers would not pick).
 */
export function quantizeTensor(type: GgmlType, values: Float32Array, tensorName = '(tensor)'): Uint8Array {
  switch (type) {
    case GgmlType.F32: return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case GgmlType.F16: return f32ArrayToF16(values);
    case GgmlType.BF16: return f32ArrayToBf16(values);
    case GgmlType.Q8_0: return quantizeQ8_0(values);
    case GgmlType.Q4_0: return quantizeQ4_0(values);
    case GgmlType.Q4_1: return quantizeQ4_1(values);
    case GgmlType.Q5_0: return quantizeQ5_0(values);
    case GgmlType.Q5_1: return quantizeQ5_1(values);
    case GgmlType.Q2_K: return quantizeQ2_K(values);
    case GgmlType.Q3_K: return quantizeQ3_K(values);
    case GgmlType.Q4_K: return quantizeQ4_K(values);
    case GgmlType.Q5_K: return quantizeQ5_K(values);
    case GgmlType.Q6_K: return quantizeQ6_K(values);
    case GgmlType.IQ4_NL: return quantizeIQ4_NL(values);
    case GgmlType.IQ4_XS: return quantizeIQ4_XS(values);
    default: throw new UnsupportedQuantError(tensorName, typeName(type));
  }
}
