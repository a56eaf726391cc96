// `--kv-type f16|f32` (complete, bench decode|prefill, bench edit-replay): the KV cache's element type;
// unset: the device's default (f16 where it has shader-f16, see kvcache/kvBuffers.ts).

import { UsageError } from '../common/errors';
import { KV_TYPES, type KvType } from '../kvcache/kvBuffers';

export const KV_TYPE_USAGE = `--kv-type ${KV_TYPES.join('|')}`;

export function kvTypeOf(flag: string | undefined): KvType | undefined {
  if (flag === undefined) return undefined;
  if (!KV_TYPES.includes(flag as KvType)) throw new UsageError(`${KV_TYPE_USAGE}: got "${flag}"`);
  return flag as KvType;
}
