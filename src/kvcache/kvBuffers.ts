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
  readonly nBlocks: number;

  constructor(owner: BufferOwner, readonly shape: KvShape, budgetBytes: number) {
    const blockBytesPerLayer = shape.nKvHeads * shape.blockSize * shape.headDim * 4;
    const limit = owner.device.limits.maxStorageBufferBindingSize;
    const byBudget = Math.floor(budgetBytes / (2 * shape.nLayers * blockBytesPerLayer));
    const byBinding = Math.floor(limit / blockBytesPerLayer);
    this.nBlocks = Math.min(byBudget, byBinding);
    if (this.nBlocks < 1) {
      throw new OutOfMemoryError(`a KV budget of ${budgetBytes} bytes holds no block of ${shape.blockSize} tokens`,
        2 * shape.nLayers * blockBytesPerLayer, budgetBytes);
    }
    for (let l = 0; l < shape.nLayers; l++) {
      this.k.push(owner.storage(this.nBlocks * blockBytesPerLayer, `k${l}`));
      this.v.push(owner.storage(this.nBlocks * blockBytesPerLayer, `v${l}`));
    }
  }

  get capacityTokens(): number {
    return this.nBlocks * this.shape.blockSize;
  }
}
