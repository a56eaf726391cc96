// GGUF v3 writer. The header (metadata + tensor descriptors) is built in memory; tensor data is
// streamed to the file one tensor at a time, and a tensor's data may be a thunk, so a converter or
// synthesizer can produce a 500 MB model while holding one tensor at a time.
import { open } from 'node:fs/promises';
import { GGML_BLOCK_LAYOUT, GgmlType, GgufValueType, type GgufMetadataEntry, type GgufValue } from './types';

export interface GgufTensorToWrite {
  name: string;
  /** ggml order: dims[0] is contiguous; a [out][in] matrix is [in, out]. */
  dims: number[];
  type: GgmlType;
  /**
   * Exactly the tensor's byte size. A thunk is called when the tensor is written and may return the
   * bytes or an iterable of consecutive chunks (so even one 500 MB tensor need not be in memory at once).
   */
  data: Uint8Array | (() => TensorBytes | Promise<TensorBytes>);
}

export type TensorBytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface GgufToWrite {
  metadata: GgufMetadataEntry[];
  tensors: GgufTensorToWrite[];
  /** Data alignment in bytes (power of two); written as general.alignment when not 32. */
  alignment?: number;
}

const GGUF_VERSION = 3;
const DEFAULT_ALIGNMENT_BYTES = 32;
const utf8 = new TextEncoder();

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number): void { const at = this.reserve(1); this.buf.writeUInt8(v, at); }
  i8(v: number): void { const at = this.reserve(1); this.buf.writeInt8(v, at); }
  u16(v: number): void { const at = this.reserve(2); this.buf.writeUInt16LE(v, at); }
  i16(v: number): void { const at = this.reserve(2); this.buf.writeInt16LE(v, at); }
  u32(v: number): void { const at = this.reserve(4); this.buf.writeUInt32LE(v, at); }
  i32(v: number): void { const at = this.reserve(4); this.buf.writeInt32LE(v, at); }
  f32(v: number): void { const at = this.reserve(4); this.buf.writeFloatLE(v, at); }
  f64(v: number): void { const at = this.reserve(8); this.buf.writeDoubleLE(v, at); }
  u64(v: number | bigint): void { const at = this.reserve(8); this.buf.writeBigUInt64LE(BigInt(v), at); }
  i64(v: number | bigint): void { const at = this.reserve(8); this.buf.writeBigInt64LE(BigInt(v), at); }
  string(s: string): void {
    const bytes = utf8.encode(s);
    this.u64(bytes.length);
    const at = this.reserve(bytes.length); // reserve may replace this.buf: call it first
    this.buf.set(bytes, at);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n); // Buffer.alloc zero-fills
  }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

function expectNumber(key: string, v: GgufValue): number {
  if (typeof v !== 'number') throw new TypeError(`metadata ${key}: expected a number, got ${typeof v}`);
  return v;
}

function writeValue(out: ByteSink, key: string, type: GgufValueType, v: GgufValue, arrayType?: GgufValueType): void {
  switch (type) {
    case GgufValueType.UINT8: return out.u8(expectNumber(key, v));
    case GgufValueType.INT8: return out.i8(expectNumber(key, v));
    case GgufValueType.UINT16: return out.u16(expectNumber(key, v));
    case GgufValueType.INT16: return out.i16(expectNumber(key, v));
    case GgufValueType.UINT32: return out.u32(expectNumber(key, v));
    case GgufValueType.INT32: return out.i32(expectNumber(key, v));
    case GgufValueType.FLOAT32: return out.f32(expectNumber(key, v));
    case GgufValueType.FLOAT64: return out.f64(expectNumber(key, v));
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new TypeError(`metadata ${key}: expected an integer`);
      return type === GgufValueType.UINT64 ? out.u64(v) : out.i64(v);
    }
    case GgufValueType.BOOL:
      if (typeof v !== 'boolean') throw new TypeError(`metadata ${key}: expected a boolean`);
      return out.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== 'string') throw new TypeError(`metadata ${key}: expected a string`);
      return out.string(v);
    case GgufValueType.ARRAY: {
      if (!Array.isArray(v)) throw new TypeError(`metadata ${key}: expected an array`);
      if (arrayType === undefined || arrayType === GgufValueType.ARRAY) {
        throw new TypeError(`metadata ${key}: arrays need a scalar or string arrayType`);
      }
      out.u32(arrayType);
      out.u64(v.length);
      for (const item of v) writeValue(out, key, arrayType, item);
      return;
    }
    default: throw new TypeError(`metadata ${key}: unknown value type ${type}`);
  }
}

/** Bytes of a tensor from its dims and type; throws when dims[0] is not a whole number of blocks. */
export function tensorByteSize(name: string, dims: number[], type: GgmlType): number {
  const layout = GGML_BLOCK_LAYOUT[type];
  if (!layout) throw new TypeError(`tensor ${name}: no block layout for ${GgmlType[type]}`);
  if (dims.length < 1 || dims.length > 4 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new TypeError(`tensor ${name}: bad dims [${dims}]`);
  }
  if (dims[0] % layout.blockElems !== 0) {
    throw new TypeError(`tensor ${name}: dims[0]=${dims[0]} is not a multiple of ${layout.blockElems} (${GgmlType[type]})`);
  }
  return (dims.reduce((a, b) => a * b, 1) / layout.blockElems) * layout.blockBytes;
}

/** Writes a GGUF v3 file. Metadata keys and tensor names must be unique. */
export async function writeGguf(path: string, model: GgufToWrite): Promise<void> {
  const alignment = model.alignment ?? DEFAULT_ALIGNMENT_BYTES;
  if (alignment < 1 || (alignment & (alignment - 1)) !== 0) throw new TypeError(`alignment ${alignment} is not a power of two`);
  const metadata = [...model.metadata];
  const hasAlignmentKey = metadata.some((m) => m.key === 'general.alignment');
  if (!hasAlignmentKey && alignment !== DEFAULT_ALIGNMENT_BYTES) {
    metadata.push({ key: 'general.alignment', type: GgufValueType.UINT32, value: alignment });
  }
  const seen = new Set<string>();
  for (const m of metadata) {
    if (seen.has(m.key)) throw new TypeError(`duplicate metadata key ${m.key}`);
    seen.add(m.key);
  }

  const header = new ByteSink();
  header.u32(0x46554747); // "GGUF"
  header.u32(GGUF_VERSION);
  header.u64(model.tensors.length);
  header.u64(metadata.length);
  for (const m of metadata) {
    header.string(m.key);
    header.u32(m.type);
    writeValue(header, m.key, m.type, m.value, m.arrayType);
  }
  // [nTensors] byte sizes and offsets relative to the data section, each aligned.
  const sizes: number[] = [];
  let dataBytes = 0;
  const names = new Set<string>();
  for (const t of model.tensors) {
    if (names.has(t.name)) throw new TypeError(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    const size = tensorByteSize(t.name, t.dims, t.type);
    header.string(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(d);
    header.u32(t.type);
    header.u64(dataBytes);
    sizes.push(size);
    dataBytes += Math.ceil(size / alignment) * alignment;
  }
  header.pad(alignment);

  const handle = await open(path, 'w');
  try {
    let pos = 0;
    const write = async (bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, pos + done);
        done += bytesWritten;
      }
      pos += bytes.length;
    };
    await write(header.bytes());
    const padding = new Uint8Array(alignment);
    for (let i = 0; i < model.tensors.length; i++) {
      const t = model.tensors[i];
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      let written = 0;
      for await (const chunk of data instanceof Uint8Array ? [data] : data) {
        written += chunk.length;
        if (written > sizes[i]) break;
        await write(chunk);
      }
      if (written !== sizes[i]) {
        throw new TypeError(`tensor ${t.name}: data has ${written}${written > sizes[i] ? '+' : ''} bytes, expected ${sizes[i]}`);
      }
      const pad = (alignment - (written % alignment)) % alignment;
      if (pad > 0 && i < model.tensors.length - 1) await write(padding.subarray(0, pad));
    }
  } finally {
    await handle.close();
  }
}
