// The GGUF container as read from disk: metadata key/values and tensor descriptors.
// Layout reference: ggml's docs/gguf.md (v2/v3: u64 counts; little-endian).

/** ggml tensor types, with the numbers GGUF stores. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/** Elements per block and bytes per block, for the types whose size we know. */
export const GGML_BLOCK_LAYOUT: Partial<Record<GgmlType, { blockElems: number; blockBytes: number }>> = {
  [GgmlType.F32]: { blockElems: 1, blockBytes: 4 },
  [GgmlType.F16]: { blockElems: 1, blockBytes: 2 },
  [GgmlType.BF16]: { blockElems: 1, blockBytes: 2 },
  [GgmlType.Q4_0]: { blockElems: 32, blockBytes: 18 },
  [GgmlType.Q4_1]: { blockElems: 32, blockBytes: 20 },
  [GgmlType.Q5_0]: { blockElems: 32, blockBytes: 22 },
  [GgmlType.Q5_1]: { blockElems: 32, blockBytes: 24 },
  [GgmlType.Q8_0]: { blockElems: 32, blockBytes: 34 },
  [GgmlType.Q8_1]: { blockElems: 32, blockBytes: 36 },
  [GgmlType.Q2_K]: { blockElems: 256, blockBytes: 84 },
  [GgmlType.Q3_K]: { blockElems: 256, blockBytes: 110 },
  [GgmlType.Q4_K]: { blockElems: 256, blockBytes: 144 },
  [GgmlType.Q5_K]: { blockElems: 256, blockBytes: 176 },
  [GgmlType.Q6_K]: { blockElems: 256, blockBytes: 210 },
  [GgmlType.Q8_K]: { blockElems: 256, blockBytes: 292 },
  [GgmlType.I8]: { blockElems: 1, blockBytes: 1 },
  [GgmlType.I16]: { blockElems: 1, blockBytes: 2 },
  [GgmlType.I32]: { blockElems: 1, blockBytes: 4 },
  [GgmlType.I64]: { blockElems: 1, blockBytes: 8 },
  [GgmlType.F64]: { blockElems: 1, blockBytes: 8 },
  // Known but not runnable here: sizes from ggml-common.h so the reader can bound-check such files.
  [GgmlType.IQ2_XXS]: { blockElems: 256, blockBytes: 66 },
  [GgmlType.IQ2_XS]: { blockElems: 256, blockBytes: 74 },
  [GgmlType.IQ3_XXS]: { blockElems: 256, blockBytes: 98 },
  [GgmlType.IQ1_S]: { blockElems: 256, blockBytes: 50 },
  [GgmlType.IQ4_NL]: { blockElems: 32, blockBytes: 18 },
  [GgmlType.IQ3_S]: { blockElems: 256, blockBytes: 110 },
  [GgmlType.IQ2_S]: { blockElems: 256, blockBytes: 82 },
  [GgmlType.IQ4_XS]: { blockElems: 256, blockBytes: 136 },
  [GgmlType.IQ1_M]: { blockElems: 256, blockBytes: 56 },
  [GgmlType.TQ1_0]: { blockElems: 256, blockBytes: 54 },
  [GgmlType.TQ2_0]: { blockElems: 256, blockBytes: 66 },
  [GgmlType.MXFP4]: { blockElems: 32, blockBytes: 17 },
};

/** GGUF metadata value types. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/**
 * A metadata value. Integers up to 2^53 are numbers; 64-bit integers beyond that are bigint.
 * Arrays of numbers are kept as plain arrays; large arrays (token lists) are typed per element.
 */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension, e.g. a [out][in] matrix has dims [in, out]. */
  dims: number[];
  type: GgmlType;
  /** Byte offset of the tensor's data relative to the start of the data section. */
  offset: number;
  /** Bytes of data, from the type's block layout. */
  byteSize: number;
  /** Product of dims. */
  elementCount: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the data section (aligned). */
  dataOffset: number;
  alignment: number;
  fileSize: number;
}

/** A metadata entry as the writer takes it: the value with the GGUF type to store it as. */
export interface GgufMetadataEntry {
  key: string;
  type: GgufValueType;
  /** Element type, when type is ARRAY. */
  arrayType?: GgufValueType;
  value: GgufValue;
}
