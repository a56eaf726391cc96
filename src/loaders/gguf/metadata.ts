// Typed accessors over GGUF metadata. Each throws ModelFormatError(key, 'missing' | 'expected X, got Y')
// so a model config built from metadata fails on the first bad key with its name.
import { ModelFormatError } from '../../common/errors';
import type { GgufValue } from './types';

export type GgufMetadata = Map<string, GgufValue>;

/** `optional`: return undefined when the key is absent; `default`: return it when absent. */
export interface MetaOptions<T> {
  optional?: boolean;
  default?: T;
  /** File path, for the error message. */
  file?: string;
}

function describe(v: GgufValue): string {
  if (Array.isArray(v)) return `array[${v.length}]`;
  if (typeof v === 'string') return `string "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  return `${typeof v} ${String(v)}`;
}

function lookup<T>(meta: GgufMetadata, key: string, opts: MetaOptions<T> | undefined): GgufValue | undefined {
  const v = meta.get(key);
  if (v === undefined && opts?.default === undefined && !opts?.optional) {
    throw new ModelFormatError(key, 'missing', opts?.file);
  }
  return v;
}

function fail(key: string, expected: string, got: GgufValue, file?: string): never {
  throw new ModelFormatError(key, `expected ${expected}, got ${describe(got)}`, file);
}

type Getter<T> = {
  (meta: GgufMetadata, key: string, opts?: MetaOptions<T> & { optional?: false }): T;
  (meta: GgufMetadata, key: string, opts: MetaOptions<T>): T | undefined;
};

function accessor<T>(check: (key: string, v: GgufValue, file?: string) => T): Getter<T> {
  return ((meta: GgufMetadata, key: string, opts?: MetaOptions<T>) => {
    const v = lookup(meta, key, opts);
    if (v === undefined) return opts?.default;
    return check(key, v, opts?.file);
  }) as Getter<T>;
}

/** A non-negative integer below 2^32 (u8/u16/u32 and in-range signed or 64-bit values). */
export const metaU32 = accessor<number>((key, v, file) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  return fail(key, 'an unsigned 32-bit integer', v, file);
});

/** Any integer that fits a JS number exactly (64-bit values beyond 2^53 are rejected). */
export const metaInt = accessor<number>((key, v, file) => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return fail(key, 'an integer', v, file);
});

/** A float (any numeric value is accepted: some converters store e.g. rope.freq_base as an int). */
export const metaF32 = accessor<number>((key, v, file) => {
  if (typeof v === 'number') return v;
  return fail(key, 'a number', v, file);
});

export const metaString = accessor<string>((key, v, file) => {
  if (typeof v === 'string') return v;
  return fail(key, 'a string', v, file);
});

export const metaBool = accessor<boolean>((key, v, file) => {
  if (typeof v === 'boolean') return v;
  return fail(key, 'a bool', v, file);
});

export const metaStringArray = accessor<string[]>((key, v, file) => {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return fail(key, 'an array of strings', v, file);
});

export const metaNumberArray = accessor<number[]>((key, v, file) => {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  return fail(key, 'an array of numbers', v, file);
});

/** The architecture-prefixed key, e.g. archKey('qwen2', 'context_length') = 'qwen2.context_length'. */
export function archKey(arch: string, suffix: string): string {
  return `${arch}.${suffix}`;
}
