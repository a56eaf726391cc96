// Decode attention alone (rope + K/V store of one token, then attention over the cache) with an f32 and
// an f16 cache: many dispatches in one submit, timed by the wall clock around it, the two KV types
// alternated round by round so a shared machine's drift hits both. Shape: Qwen2.5-Coder-0.5B's attention
// (14 heads / 2 KV heads of 64, NeoX rope), one layer, the adapter's own lane count and key splits.

import type { Gpu } from '../gpu/device';
import { BufferOwner } from '../gpu/buffers';
import { OpContext } from '../ops/context';
import { AttentionOp, attentionSplits, defaultSplitKeys, type AttentionShape } from '../ops/attention';
import { KV_ELEMENT_BYTES, type KvType } from '../kvcache/kvBuffers';
import { ropeTable } from '../model/rope';
import { f32ToF16Bits } from '../loaders/quant/f16';
import { median } from './stats';

export interface AttentionKvResult {
  kvType: KvType;
  /** Median over rounds of the time of one decode attention step (one layer). */
  usPerStep: number;
  /** K + V bytes the step reads (context x kv heads x head dim x 2 x element bytes). */
  kvBytesRead: number;
}

export async function benchAttentionKv(gpu: Gpu, context: number, kvTypes: KvType[], rounds = 5, steps = 50): Promise<AttentionKvResult[]> {
  const splitKeys = defaultSplitKeys(gpu.adapter.isSoftware);
  const shape: AttentionShape = { nHeads: 14, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 16, slidingWindow: 0, splitKeys };
  const positions = context + 1;
  const blocks = Math.ceil(positions / shape.blockSize);
  const cacheElems = blocks * shape.nKvHeads * shape.blockSize * shape.headDim;
  const values = Float32Array.from({ length: cacheElems }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const ctx = new OpContext(gpu, 'bench-attention-kv');
  const owner = new BufferOwner(gpu.device, 'bench');
  try {
    const common = {
      qkv: owner.storageFrom(Float32Array.from({ length: (shape.nHeads + 2 * shape.nKvHeads) * shape.headDim }, (_, i) => Math.cos(i) * 0.5), 'qkv'),
      ropeTable: owner.storageFrom(ropeTable(positions, shape.nRot, 1e6), 'rope'),
      blockTable: owner.storageFrom(Uint32Array.from({ length: blocks }, (_, i) => i), 'blockTable'),
      out: owner.storage(shape.nHeads * shape.headDim * 4, 'out'),
      partials: owner.storage(shape.nHeads * Math.max(1, Math.ceil(positions / Math.max(1, splitKeys))) * (shape.headDim + 2) * 4, 'partials'),
    };
    const ops = new Map<KvType, AttentionOp>();
    for (const kvType of kvTypes) {
      const cache = (label: string) => kvType === 'f32' ? owner.storageFrom(values, label) : owner.storageFrom(Uint16Array.from(values, f32ToF16Bits), label);
      ops.set(kvType, new AttentionOp(ctx, { ...shape, kvType }, { ...common, kCache: cache(`k.${kvType}`), vCache: cache(`v.${kvType}`) }, `attn.${kvType}`));
    }
    const splits = attentionSplits(1, positions, splitKeys);
    ctx.writeStep(1, context, 1, splits);
    const run = async (op: AttentionOp, n: number) => {
      const enc = gpu.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < n; i++) op.encode(pass, 1, splits);
      pass.end();
      gpu.device.queue.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
    };
    const times = new Map<KvType, number[]>(kvTypes.map((k) => [k, []]));
    for (const op of ops.values()) await run(op, 2);
    for (let r = 0; r < rounds; r++) {
      for (const kvType of kvTypes) {
        const t0 = performance.now();
        await run(ops.get(kvType)!, steps);
        times.get(kvType)!.push(((performance.now() - t0) * 1000) / steps);
      }
    }
    return kvTypes.map((kvType) => ({
      kvType, usPerStep: median(times.get(kvType)!), kvBytesRead: 2 * positions * shape.nKvHeads * shape.headDim * KV_ELEMENT_BYTES[kvType],
    }));
  } finally {
    owner.dispose();
    ctx.dispose();
  }
}
