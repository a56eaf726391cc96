// The pieces of a model's upload in flight at once: each piece is read, repacked (on a RepackPool thread
// when there is one) and written to the GPU. With a pool, as many pieces run as there are threads plus
// one, so the threads stay busy while the loading thread reads and writes; without one, one at a time.
// Host memory stays bounded by the slots: a piece holds its GGUF bytes (at most UPLOAD_BYTES) and as
// much again repacked, in arrays that finished pieces hand back for reuse (fresh 16 MB arrays per piece:
// their allocation, zero-fill and collection took ~10% of a Q8_0 model's load on the loading thread).

import { repackBlocks, type WeightDtype } from '../loaders/repack';
import type { RepackPool } from '../loaders/repackPool';
import { writeBytes } from './buffers';
import { SpareBuffers } from '../common/spareBuffers';

export class UploadQueue {
  readonly slots: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private failed: { error: unknown } | null = null;
  /** Plain buffers of finished pieces (shared ones are the pool's: they outlive a load, see RepackPool). */
  private readonly spare: SpareBuffers<ArrayBuffer>;

  constructor(readonly pool: RepackPool | null) {
    this.slots = pool ? pool.maxThreads + 1 : 1;
    this.spare = new SpareBuffers((n) => new ArrayBuffer(n), 3 * this.slots + 1);
  }

  /**
   * Runs `task` when a slot is free, in the order asked. Once a task has failed (or fail() was called),
   * the tasks not yet started are not run: they reject with that first error, so a bad file stops early.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await new Promise<void>((wake) => this.waiting.push(wake));
    else this.running++;
    try {
      if (this.failed) throw this.failed.error;
      return await task();
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      // The slot passes straight to the next task in line (running stays the same), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Stops the tasks not yet started (they reject with `error`): another part of the load has failed. */
  fail(error: unknown): void {
    this.failed ??= { error };
  }

  /**
   * An array of `bytes` (contents undefined) over a buffer of a finished piece when one is big enough.
   * `shared`: over a SharedArrayBuffer, which the pool's threads can see (dawn.node's writeBuffer takes
   * no shared memory, so write() stages those through an ArrayBuffer).
   */
  take(bytes: number, shared = false): Uint8Array {
    if (!shared) return this.spare.take(bytes);
    if (!this.pool) throw new Error('UploadQueue.take: shared memory is for a repack pool, and this queue has none');
    return this.pool.shared.take(bytes);
  }

  /** Hands back arrays from take() once their piece is written; others are ignored. */
  give(...arrays: Uint8Array[]): void {
    for (const a of arrays) {
      if (a.buffer instanceof SharedArrayBuffer) this.pool?.shared.give(a);
      else this.spare.give(a);
    }
  }

  /**
   * GGUF blocks split into the kernels' layouts: `dataBytes` of quants and `scaleBytes` (4-byte aligned)
   * of scales, in arrays from take() (give() them back once written, with write()). `src` is best an
   * array from take(src.byteLength, true): any other is copied into one before it goes to a thread.
   */
  async repack(dtype: WeightDtype, src: Uint8Array, dataBytes: number, scaleBytes: number): Promise<{ data: Uint8Array; scales: Uint8Array }> {
    const shared = this.pool !== null;
    const data = this.take(dataBytes, shared);
    const scales = this.take(scaleBytes, shared);
    if (!this.pool) {
      repackBlocks(dtype, src, data, scales);
      return { data, scales };
    }
    let visible = src;
    if (!(src.buffer instanceof SharedArrayBuffer)) {
      visible = this.take(src.byteLength, true);
      visible.set(src);
    }
    try {
      await this.pool.repack(dtype, { src: visible, data, scales });
    } catch (e) {
      // A pool whose thread died (it says so in `broken`) loses no piece: the blocks are still in shared
      // memory, so this thread repacks them. An error of the repack itself is the piece's own.
      if (!this.pool.broken) throw e;
      repackBlocks(dtype, visible, data, scales);
    } finally {
      if (visible !== src) this.give(visible);
    }
    return { data, scales };
  }

  /** writeBuffer of `bytes` at `offset`, through a reused ArrayBuffer when they are shared memory. */
  write(device: GPUDevice, buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
    if (!(bytes.buffer instanceof SharedArrayBuffer)) {
      writeBytes(device, buffer, offset, bytes);
      return;
    }
    const staging = this.take(bytes.byteLength);
    staging.set(bytes);
    writeBytes(device, buffer, offset, staging);
    this.give(staging);
  }
}

/** Waits for every promise to settle, then throws the first rejection (in array order), if any. */
export async function allSettledOrThrow<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
