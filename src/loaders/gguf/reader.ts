// GGUF reader: parses the header (metadata + tensor descriptors) of a v2/v3 little-endian GGUF file
// through a file handle, in bounded windows, and reads tensor data by range or in chunks.
//
// The file may be hostile. Every count and length is checked against the bytes left in the file
// before anything is allocated for it, so a 4 GB file (or a 100-byte file claiming 2^60 tensors)
// never costs more heap than its header really holds; every failure is a ModelFormatError naming
// the field. Layout: ggml docs/gguf.md.
import { open, type FileHandle } from 'node:fs/promises';
import { ModelFormatError } from '../../common/errors';
import {
  GGML_BLOCK_LAYOUT, GgmlType, GgufValueType,
  type GgufFile, type GgufTensorInfo, type GgufValue,
} from './types';

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const SUPPORTED_VERSIONS = [2, 3];
const DEFAULT_ALIGNMENT_BYTES = 32;
const MAX_ALIGNMENT_BYTES = 1 << 16;
/** Header bytes fetched per read; metadata is parsed out of this window. */
const WINDOW_BYTES = 1 << 20;
/** Keys and tensor names are short identifiers; anything longer is corruption. */
const MAX_KEY_BYTES = 1 << 16;
/** String values (chat templates, an embedded tokenizer.json) stay well under this. */
const MAX_STRING_VALUE_BYTES = 64 << 20;
/** Elements in one metadata array (a 256k vocab, 500k merges fit easily). */
const MAX_ARRAY_ELEMENTS = 1 << 24;
const MAX_ARRAY_DEPTH = 2;
const MAX_DIMS = 4;
/** Smallest possible encodings, used to bound counts by the bytes left in the file. */
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, a 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // name length, n_dims, one dim, type, offset

const VALUE_MIN_BYTES: Record<GgufValueType, number> = {
  [GgufValueType.UINT8]: 1, [GgufValueType.INT8]: 1, [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT16]: 2, [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4, [GgufValueType.INT32]: 4, [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8, [GgufValueType.INT64]: 8, [GgufValueType.FLOAT64]: 8,
  [GgufValueType.STRING]: 8, // the length; an empty string has no bytes after it
  [GgufValueType.ARRAY]: 12, // element type + count
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A forward-only cursor over the header, holding one window of the file at a time. */
class HeaderCursor {
  /** Absolute file offset of the next unread byte. */
  pos = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(private readonly handle: FileHandle, readonly path: string, readonly fileSize: number) {}

  remaining(): number {
    return this.fileSize - this.pos;
  }

  /** True when the next n bytes are already in the window (the synchronous fast path). */
  has(n: number): boolean {
    return this.pos + n <= this.windowStart + this.window.length;
  }

  /** Makes the next n bytes readable, or throws naming `field` when the file ends first. */
  async need(n: number, field: string): Promise<void> {
    if (n > this.remaining()) {
      throw new ModelFormatError(field,
        `needs ${n} bytes at offset ${this.pos} but the file has ${this.remaining()} left (truncated?)`, this.path);
    }
    if (this.has(n)) return;
    const want = Math.min(Math.max(n, WINDOW_BYTES), this.remaining());
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.handle.read(buf, got, want - got, this.pos + got);
      if (bytesRead === 0) throw new ModelFormatError(field, `file ended early at offset ${this.pos + got}`, this.path);
      got += bytesRead;
    }
    this.window = buf;
    this.windowStart = this.pos;
  }

  private at(n: number): number {
    const i = this.pos - this.windowStart;
    this.pos += n;
    return i;
  }
  u8(): number { return this.window.readUInt8(this.at(1)); }
  i8(): number { return this.window.readInt8(this.at(1)); }
  u16(): number { return this.window.readUInt16LE(this.at(2)); }
  i16(): number { return this.window.readInt16LE(this.at(2)); }
  u32(): number { return this.window.readUInt32LE(this.at(4)); }
  i32(): number { return this.window.readInt32LE(this.at(4)); }
  f32(): number { return this.window.readFloatLE(this.at(4)); }
  f64(): number { return this.window.readDoubleLE(this.at(8)); }
  /** 64-bit integers: a number when exact (|v| <= 2^53), else a bigint. */
  u64(): number | bigint { return narrow(this.window.readBigUInt64LE(this.at(8))); }
  i64(): number | bigint { return narrow(this.window.readBigInt64LE(this.at(8))); }
  bytes(n: number): Buffer {
    const i = this.at(n);
    return this.window.subarray(i, i + n);
  }
  /** n bytes as UTF-8, invalid sequences replaced by U+FFFD. */
  lossyString(n: number): string {
    const i = this.at(n);
    return this.window.toString('utf8', i, i + n);
  }
}

const TWO_POW_53 = 2n ** 53n;

/** Exact as a number when |v| <= 2^53 (the GgufValue contract), else kept as a bigint. */
function narrow(v: bigint): number | bigint {
  return v <= TWO_POW_53 && v >= -TWO_POW_53 ? Number(v) : v;
}

/** Reads a u64 count/length and checks it against `max`; returns it as a number. */
async function readLength(cur: HeaderCursor, field: string, max: number, what: string): Promise<number> {
  if (!cur.has(8)) await cur.need(8, field);
  const v = cur.u64();
  if (typeof v === 'bigint' || v > max) {
    throw new ModelFormatError(field, `${what} ${v} exceeds the limit ${max}`, cur.path);
  }
  return v;
}

async function readString(cur: HeaderCursor, field: string, maxBytes: number, strict: boolean): Promise<string> {
  const len = await readLength(cur, field, Math.min(maxBytes, cur.remaining() - 8), 'string length');
  if (!cur.has(len)) await cur.need(len, field);
  return decodeString(cur, len, field, strict);
}

function decodeString(cur: HeaderCursor, len: number, field: string, strict: boolean): string {
  if (!strict) return cur.lossyString(len);
  try {
    return strictUtf8.decode(cur.bytes(len));
  } catch {
    throw new ModelFormatError(field, 'is not valid UTF-8', cur.path);
  }
}

/**
 * A short value string read synchronously when it lies wholly in the window (the common case in a
 * 150k-token vocab, where an await per string would dominate); undefined means take the async path.
 */
function tryReadStringSync(cur: HeaderCursor, field: string): string | undefined {
  if (!cur.has(8)) return undefined;
  const start = cur.pos;
  const len = cur.u64();
  if (typeof len === 'number' && len <= MAX_STRING_VALUE_BYTES && cur.has(len)) return decodeString(cur, len, field, false);
  cur.pos = start;
  return undefined;
}

function checkValueType(cur: HeaderCursor, t: number, field: string): GgufValueType {
  if (!(t in VALUE_MIN_BYTES)) throw new ModelFormatError(field, `unknown metadata value type ${t}`, cur.path);
  return t as GgufValueType;
}

async function readValue(cur: HeaderCursor, type: GgufValueType, field: string, depth: number): Promise<GgufValue> {
  if (type === GgufValueType.STRING) return readString(cur, field, MAX_STRING_VALUE_BYTES, false);
  if (type === GgufValueType.ARRAY) return readArray(cur, field, depth + 1);
  const size = VALUE_MIN_BYTES[type];
  if (!cur.has(size)) await cur.need(size, field);
  return readScalar(cur, type, field);
}

function readScalar(cur: HeaderCursor, type: GgufValueType, field: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8: return cur.u8();
    case GgufValueType.INT8: return cur.i8();
    case GgufValueType.UINT16: return cur.u16();
    case GgufValueType.INT16: return cur.i16();
    case GgufValueType.UINT32: return cur.u32();
    case GgufValueType.INT32: return cur.i32();
    case GgufValueType.FLOAT32: return cur.f32();
    case GgufValueType.FLOAT64: return cur.f64();
    case GgufValueType.UINT64: return cur.u64();
    case GgufValueType.INT64: return cur.i64();
    case GgufValueType.BOOL: {
      const b = cur.u8();
      if (b > 1) throw new ModelFormatError(field, `bool byte is ${b}, expected 0 or 1`, cur.path);
      return b === 1;
    }
    default: throw new ModelFormatError(field, `value type ${type} is not a scalar`, cur.path);
  }
}

async function readArray(cur: HeaderCursor, field: string, depth: number): Promise<GgufValue[]> {
  if (depth > MAX_ARRAY_DEPTH) throw new ModelFormatError(field, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`, cur.path);
  if (!cur.has(4)) await cur.need(4, `${field}.type`);
  const elemType = checkValueType(cur, cur.u32(), `${field}.type`);
  const minBytes = VALUE_MIN_BYTES[elemType];
  // Each element needs at least minBytes, so a count the file cannot hold is rejected before allocating.
  const maxCount = Math.min(MAX_ARRAY_ELEMENTS, Math.floor((cur.remaining() - 8) / minBytes));
  const count = await readLength(cur, `${field}.length`, Math.max(0, maxCount), 'array length');
  const out: GgufValue[] = new Array(count);
  for (let i = 0; i < count; i++) {
    if (elemType === GgufValueType.STRING) {
      out[i] = tryReadStringSync(cur, field) ?? await readValue(cur, elemType, `${field}[${i}]`, depth);
    } else if (elemType === GgufValueType.ARRAY) {
      out[i] = await readValue(cur, elemType, `${field}[${i}]`, depth);
    } else {
      if (!cur.has(minBytes)) await cur.need(minBytes, `${field}[${i}]`);
      out[i] = readScalar(cur, elemType, `${field}[${i}]`);
    }
  }
  return out;
}

function readAlignment(cur: HeaderCursor, type: GgufValueType, value: GgufValue): number {
  const field = 'general.alignment';
  if (type !== GgufValueType.UINT32 || typeof value !== 'number') {
    throw new ModelFormatError(field, `expected a uint32, got value type ${GgufValueType[type]}`, cur.path);
  }
  if (value < 1 || value > MAX_ALIGNMENT_BYTES || (value & (value - 1)) !== 0) {
    throw new ModelFormatError(field, `${value} is not a power of two in [1, ${MAX_ALIGNMENT_BYTES}]`, cur.path);
  }
  return value;
}

async function readTensorInfo(cur: HeaderCursor, index: number, alignment: number): Promise<GgufTensorInfo> {
  const name = await readString(cur, `tensor[${index}].name`, MAX_KEY_BYTES, true);
  const field = `tensor.${name}`;
  await cur.need(4, `${field}.n_dims`);
  const nDims = cur.u32();
  if (nDims < 1 || nDims > MAX_DIMS) throw new ModelFormatError(`${field}.n_dims`, `${nDims} is not in [1, ${MAX_DIMS}]`, cur.path);
  await cur.need(8 * nDims + 4 + 8, field);
  const dims: number[] = [];
  let elementCount = 1;
  for (let d = 0; d < nDims; d++) {
    const dim = cur.u64();
    if (typeof dim === 'bigint' || dim < 1) throw new ModelFormatError(`${field}.dims[${d}]`, `${dim} is not a positive size`, cur.path);
    elementCount *= dim;
    if (elementCount > Number.MAX_SAFE_INTEGER) {
      throw new ModelFormatError(`${field}.dims`, 'element count exceeds 2^53', cur.path);
    }
    dims.push(dim);
  }
  const type = cur.u32();
  if (GgmlType[type] === undefined) throw new ModelFormatError(`${field}.type`, `unknown ggml type ${type}`, cur.path);
  const layout = GGML_BLOCK_LAYOUT[type as GgmlType];
  if (!layout) throw new ModelFormatError(`${field}.type`, `no block layout for ggml type ${GgmlType[type]}`, cur.path);
  if (dims[0] % layout.blockElems !== 0) {
    throw new ModelFormatError(`${field}.dims[0]`,
      `${dims[0]} is not a multiple of the ${GgmlType[type]} block size ${layout.blockElems}`, cur.path);
  }
  const offset = cur.u64();
  if (typeof offset === 'bigint' || offset < 0) throw new ModelFormatError(`${field}.offset`, `${offset} is out of range`, cur.path);
  if (offset % alignment !== 0) throw new ModelFormatError(`${field}.offset`, `${offset} is not aligned to ${alignment}`, cur.path);
  const byteSize = (elementCount / layout.blockElems) * layout.blockBytes;
  return { name, dims, type: type as GgmlType, offset, byteSize, elementCount };
}

/** Parses the header of the GGUF file at `path`. Tensor data is not read (see readTensorBytes). */
export async function openGguf(path: string): Promise<GgufFile> {
  const handle = await open(path, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const cur = new HeaderCursor(handle, path, fileSize);
    await cur.need(4, 'header.magic');
    const magic = cur.u32();
    if (magic !== GGUF_MAGIC) {
      throw new ModelFormatError('header.magic', `0x${magic.toString(16).padStart(8, '0')} is not "GGUF"`, path);
    }
    await cur.need(4 + 8 + 8, 'header');
    const version = cur.u32();
    if (!SUPPORTED_VERSIONS.includes(version)) {
      const hint = version > 0xffff ? ' (a big-endian file?)' : '';
      throw new ModelFormatError('header.version', `version ${version} is not supported, expected 2 or 3${hint}`, path);
    }
    const afterCounts = cur.remaining() - 16;
    const tensorCount = await readLength(cur, 'header.tensor_count',
      Math.floor(afterCounts / MIN_TENSOR_INFO_BYTES), 'tensor count');
    const kvCount = await readLength(cur, 'header.metadata_kv_count',
      Math.floor((afterCounts - tensorCount * MIN_TENSOR_INFO_BYTES) / MIN_KV_BYTES), 'metadata count');

    const metadata = new Map<string, GgufValue>();
    let alignment = DEFAULT_ALIGNMENT_BYTES;
    for (let i = 0; i < kvCount; i++) {
      const key = await readString(cur, `metadata[${i}].key`, MAX_KEY_BYTES, true);
      if (key.length === 0) throw new ModelFormatError(`metadata[${i}].key`, 'is empty', path);
      if (metadata.has(key)) throw new ModelFormatError(key, 'duplicate metadata key', path);
      await cur.need(4, `${key}.type`);
      const type = checkValueType(cur, cur.u32(), `${key}.type`);
      const value = await readValue(cur, type, key, 0);
      if (key === 'general.alignment') alignment = readAlignment(cur, type, value);
      metadata.set(key, value);
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const info = await readTensorInfo(cur, i, alignment);
      if (names.has(info.name)) throw new ModelFormatError(`tensor.${info.name}`, 'duplicate tensor name', path);
      names.add(info.name);
      tensors.push(info);
    }

    const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
    checkTensorRanges(tensors, dataOffset, fileSize, path);
    return { path, version, metadata, tensors, dataOffset, alignment, fileSize };
  } finally {
    await handle.close();
  }
}

/** Every tensor's bytes must lie inside the file and not overlap another tensor's. */
function checkTensorRanges(tensors: GgufTensorInfo[], dataOffset: number, fileSize: number, path: string): void {
  for (const t of tensors) {
    const end = dataOffset + t.offset + t.byteSize;
    if (end > fileSize) {
      throw new ModelFormatError(`tensor.${t.name}.offset`,
        `data ends at byte ${end}, past the end of the file (${fileSize} bytes): truncated file`, path);
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.byteSize) {
      throw new ModelFormatError(`tensor.${sorted[i].name}.offset`, `overlaps tensor ${prev.name}`, path);
    }
  }
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, field: string, path: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await handle.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new ModelFormatError(field, `file ended at byte ${position + got} (was it truncated after opening?)`, path);
    got += bytesRead;
  }
}

/** Reads bytes [start, start + length) of a tensor's data (default: all of it), into `into` when given (length bytes). */
export async function readTensorBytes(
  file: GgufFile, tensor: GgufTensorInfo, start = 0, length = tensor.byteSize - start, into?: Uint8Array,
): Promise<Uint8Array> {
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > tensor.byteSize) {
    throw new RangeError(`range [${start}, ${start + length}) is outside tensor ${tensor.name} (${tensor.byteSize} bytes)`);
  }
  if (into && into.byteLength !== length) throw new RangeError(`readTensorBytes: an array of ${into.byteLength} bytes for ${length}`);
  const out = into ?? new Uint8Array(length);
  const handle = await open(file.path, 'r');
  try {
    await readFully(handle, out, file.dataOffset + tensor.offset + start, `tensor.${tensor.name}`, file.path);
  } finally {
    await handle.close();
  }
  return out;
}

/**
 * Yields a tensor's data in consecutive chunks of about `chunkBytes` (rounded down to whole blocks,
 * at least one block), for streaming uploads; each chunk is a fresh array the caller may keep.
 */
export async function* readTensorChunks(
  file: GgufFile, tensor: GgufTensorInfo, chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  const layout = GGML_BLOCK_LAYOUT[tensor.type];
  const blockBytes = layout ? layout.blockBytes : 1;
  const step = Math.max(blockBytes, Math.floor(chunkBytes / blockBytes) * blockBytes);
  const handle = await open(file.path, 'r');
  try {
    for (let at = 0; at < tensor.byteSize; at += step) {
      const chunk = new Uint8Array(Math.min(step, tensor.byteSize - at));
      await readFully(handle, chunk, file.dataOffset + tensor.offset + at, `tensor.${tensor.name}`, file.path);
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}
