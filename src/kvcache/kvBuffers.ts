// The KV pool on the GPU, allocated once from a byte budget: per layer one K and one V buffer of
// [nBlocks][nKvHeads][blockSize][headDim] in the KV type (f32, or f16 where the adapter has shader-f16:
// half the bytes, so a budget holds twice the tokens; attention still accumulates in f32).
// A block id selects the same slots in every layer.

import { FeatureUnavailableError, OutOfMemoryError } from '../common/errors';
import type { BufferOwner } from '../gpu/buffers';
import type { BlockPool } from './blockPool';

/** Element type of the stored K and V. */
export type KvType = 'f32' | 'f16';
export const KV_TYPES: readonly KvType[] = ['f32', 'f16'];

export const KV_ELEMENT_BYTES: Record<KvType, number> = { f32: 4, f16: 2 };

export interface KvShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number;
  kvType: KvType;
}

/** Same layers, heads, head size, block size and KV type: one model's blocks fit the other's buffers. */
export function kvShapesEqual(a: KvShape, b: KvShape): boolean {
  return a.nLayers === b.nLayers && a.nKvHeads === b.nKvHeads && a.headDim === b.headDim && a.blockSize === b.blockSize && a.kvType === b.kvType;
}

/** Bytes of K + V for one token over all layers. */
export function kvBytesPerToken(s: KvShape): number {
  return 2 * s.nLayers * s.nKvHeads * s.headDim * KV_ELEMENT_BYTES[s.kvType];
}

/**
 * The default KV type: f16 where the device has shader-f16 (half the memory, half the bytes attention
 * reads per key; measured against f32 by bench/kv-type.ts), else f32.
 */
export function defaultKvType(hasShaderF16: boolean): KvType {
  return hasShaderF16 ? 'f16' : 'f32';
}

/** The KV type to use on a device: the one asked for (f16 needs shader-f16), else the default. */
export function resolveKvType(device: GPUDevice, wanted: KvType | undefined): KvType {
  const hasF16 = device.features.has('shader-f16');
  if (wanted === 'f16' && !hasF16) throw new FeatureUnavailableError('shader-f16');
  return wanted ?? defaultKvType(hasF16);
}

export class KvBuffers {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  private readonly device: GPUDevice;
  /** [layer][k|v][block bytes]: WebGPU copies only between distinct buffers, so CoW goes through here. */
  private readonly copyScratch: GPUBuffer;
  readonly nBlocks: number;
  /** Bytes of one block in one layer's K (or V) buffer: [nKvHeads][blockSize][headDim] of the KV type. */
  readonly blockBytes: number;
  /**
   * Set when two models run on these buffers (a draft on its target's, draftLoad.ts): the one pool every
   * sequence on them must allocate from. Two pools over the same buffers would hand out the same block
   * twice, so forward passes refuse a sequence of another pool (LlamaModel.checkPool).
   */
  sharedPool?: BlockPool;

  constructor(owner: BufferOwner, readonly shape: KvShape, budgetBytes: number) {
    if (shape.kvType === 'f16' && !owner.device.features.has('shader-f16')) throw new FeatureUnavailableError('shader-f16');
    // A multiple of 4 bytes whatever the type (headDim % 4 == 0): copyBufferToBuffer needs that for CoW.
    const blockBytesPerLayer = shape.nKvHeads * shape.blockSize * shape.headDim * KV_ELEMENT_BYTES[shape.kvType];
    const limit = owner.device.limits.maxStorageBufferBindingSize;
    const byBudget = Math.floor(budgetBytes / (2 * shape.nLayers * blockBytesPerLayer));
    const byBinding = Math.floor(limit / blockBytesPerLayer);
    this.nBlocks = Math.min(byBudget, byBinding);
    this.blockBytes = blockBytesPerLayer;
    if (this.nBlocks < 1) {
      throw new OutOfMemoryError(`a KV budget of ${budgetBytes} bytes holds no block of ${shape.blockSize} tokens`,
        2 * shape.nLayers * blockBytesPerLayer, budgetBytes);
    }
    this.device = owner.device;
    this.copyScratch = owner.storage(2 * shape.nLayers * blockBytesPerLayer, 'kv.copyScratch');
    for (let l = 0; l < shape.nLayers; l++) {
      this.k.push(owner.storage(this.nBlocks * blockBytesPerLayer, `k${l}`));
      this.v.push(owner.storage(this.nBlocks * blockBytesPerLayer, `v${l}`));
    }
  }

  get capacityTokens(): number {
    return this.nBlocks * this.shape.blockSize;
  }

  /** Encodes a copy of block `src` into block `dst` in every layer's K and V buffer (copy-on-write). */
  encodeCopyBlock(encoder: GPUCommandEncoder, src: number, dst: number): void {
    if (src === dst) return;
    for (const b of [src, dst]) if (!Number.isInteger(b) || b < 0 || b >= this.nBlocks) throw new RangeError(`block ${b} outside the pool`);
    const n = this.blockBytes;
    const layers = this.k.length;
    for (let l = 0; l < layers; l++) {
      encoder.copyBufferToBuffer(this.k[l], src * n, this.copyScratch, 2 * l * n, n);
      encoder.copyBufferToBuffer(this.v[l], src * n, this.copyScratch, (2 * l + 1) * n, n);
    }
    for (let l = 0; l < layers; l++) {
      encoder.copyBufferToBuffer(this.copyScratch, 2 * l * n, this.k[l], dst * n, n);
      encoder.copyBufferToBuffer(this.copyScratch, (2 * l + 1) * n, this.v[l], dst * n, n);
    }
  }

  /** Copies block `src` into `dst` in its own submit, ordered before every later submit on the queue. */
  copyBlock(src: number, dst: number): void {
    const encoder = this.device.createCommandEncoder({ label: 'kv.copyBlock' });
    this.encodeCopyBlock(encoder, src, dst);
    this.device.queue.submit([encoder.finish()]);
  }
}
