// The KV pool on the GPU, allocated once from a byte budget: per layer one K and one V buffer of
// [nBlocks][nKvHeads][blockSize][headDim] f32. A block id selects the same slots in every layer.

import { OutOfMemoryError } from '../common/errors';
import type { BufferOwner } from '../gpu/buffers';

export interface KvShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number;
}

/** Bytes of K + V for one token over all layers (f32). */
export function kvBytesPerToken(s: KvShape): number {
  return 2 * s.nLayers * s.nKvHeads * s.headDim * 4;
}

export class KvBuffers {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  private readonly device: GPUDevice;
  /** [layer][k|v][block bytes]: WebGPU copies only between distinct buffers, so CoW goes through here. */
  private readonly copyScratch: GPUBuffer;
  readonly nBlocks: number;
  /** Bytes of one block in one layer's K (or V) buffer: [nKvHeads][blockSize][headDim] f32. */
  readonly blockBytes: number;

  constructor(owner: BufferOwner, readonly shape: KvShape, budgetBytes: number) {
    const blockBytesPerLayer = shape.nKvHeads * shape.blockSize * shape.headDim * 4;
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
