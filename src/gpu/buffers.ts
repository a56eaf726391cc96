// Buffer creation and readback. The creator of a buffer owns it and destroys it (see BufferOwner).
// Every buffer made here is counted while it lives (gpuBufferCensus): the engine reports the count, and
// the soak test checks that thousands of requests leave it where it was (a leaked staging buffer per
// request would grow GPU memory all day without a trace on the JS heap).

// GPUBufferUsage is a global only after the webgpu package is loaded; the numbers are fixed by the spec.
export const Usage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** Live buffers made through this module (BufferOwner and Readback), and their bytes. */
const census = { buffers: 0, bytes: 0 };

export interface GpuBufferCensus {
  buffers: number;
  bytes: number;
}

/** The GPU buffers alive now in this process, made by BufferOwner or Readback. */
export function gpuBufferCensus(): GpuBufferCensus {
  return { ...census };
}

function counted(buf: GPUBuffer): GPUBuffer {
  census.buffers++;
  census.bytes += buf.size;
  return buf;
}

function uncounted(buf: GPUBuffer): void {
  census.buffers--;
  census.bytes -= buf.size;
}

/** Creates buffers and destroys all of them at once: one owner per group of GPU resources. */
export class BufferOwner {
  private readonly owned = new Set<GPUBuffer>();
  private bytes = 0;

  constructor(readonly device: GPUDevice, readonly label: string) {}

  storage(byteSize: number, label: string, extraUsage = 0): GPUBuffer {
    return this.create(byteSize, Usage.STORAGE | Usage.COPY_DST | Usage.COPY_SRC | extraUsage, label);
  }

  uniform(byteSize: number, label: string): GPUBuffer {
    return this.create(byteSize, Usage.UNIFORM | Usage.COPY_DST, label);
  }

  /** A storage buffer filled with `data` (padded to 4 bytes). */
  storageFrom(data: ArrayBufferView, label: string): GPUBuffer {
    const size = Math.max(4, alignTo(data.byteLength, 4));
    const buf = this.storage(size, label);
    writeBytes(this.device, buf, 0, data);
    return buf;
  }

  create(byteSize: number, usage: number, label: string): GPUBuffer {
    const size = Math.max(16, alignTo(byteSize, 16));
    const buf = counted(this.device.createBuffer({ size, usage, label: `${this.label}/${label}` }));
    this.owned.add(buf);
    this.bytes += size;
    return buf;
  }

  get allocatedBytes(): number {
    return this.bytes;
  }

  destroy(buf: GPUBuffer): void {
    if (this.owned.delete(buf)) {
      this.bytes -= buf.size;
      uncounted(buf);
      buf.destroy();
    }
  }

  dispose(): void {
    const any = this.owned.size > 0;
    for (const b of this.owned) {
      uncounted(b);
      b.destroy();
    }
    this.owned.clear();
    this.bytes = 0;
    if (any) releaseDestroyed(this.device);
  }
}

/**
 * Dawn frees a destroyed buffer's memory only once a submit made after the destroy has completed. With
 * no submit (a model disposed and another loaded in its place: a load only writes), every disposed
 * model's memory stayed allocated: on lavapipe, RSS grew by a model's size per load/dispose. An empty
 * submit starts that release; `settleReleases` waits for it.
 */
function releaseDestroyed(device: GPUDevice): void {
  try {
    device.queue.submit([]);
  } catch {
    // A lost or destroyed device has released everything already.
  }
}

/** Waits until the memory of buffers destroyed so far is free again (before a large allocation). */
export async function settleReleases(device: GPUDevice): Promise<void> {
  releaseDestroyed(device);
  await device.queue.onSubmittedWorkDone();
}

export function alignTo(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** queue.writeBuffer needs a 4-byte multiple; pads a copy when it is not. */
export function writeBytes(device: GPUDevice, buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 !== 0) {
    const padded = new Uint8Array(alignTo(bytes.byteLength, 4));
    padded.set(bytes);
    bytes = padded;
  }
  device.queue.writeBuffer(buf, offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads `byteSize` bytes of `src` at `offset` back to the CPU through a staging buffer.
 * The copy is encoded into `encoder` when given (so it lands in the same submit as the work before it).
 */
export class Readback {
  private readonly staging: GPUBuffer;
  private destroyed = false;

  constructor(device: GPUDevice, readonly byteSize: number, label: string) {
    this.staging = counted(device.createBuffer({ size: alignTo(byteSize, 16), usage: Usage.MAP_READ | Usage.COPY_DST, label }));
  }

  encodeCopy(encoder: GPUCommandEncoder, src: GPUBuffer, srcOffset = 0, byteSize = this.byteSize): void {
    encoder.copyBufferToBuffer(src, srcOffset, this.staging, 0, alignTo(byteSize, 4));
  }

  /** Waits for the queue and copies the bytes out (the staging buffer is unmapped again). */
  async read(byteSize = this.byteSize): Promise<ArrayBuffer> {
    await this.staging.mapAsync(0x0001 /* GPUMapMode.READ */, 0, alignTo(byteSize, 4));
    const out = this.staging.getMappedRange(0, alignTo(byteSize, 4)).slice(0, byteSize);
    this.staging.unmap();
    return out;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    uncounted(this.staging);
    this.staging.destroy();
  }
}

/** One-off readback of a whole buffer range (tests, debugging). */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, byteSize: number, srcOffset = 0): Promise<ArrayBuffer> {
  const rb = new Readback(device, byteSize, 'readBuffer');
  const enc = device.createCommandEncoder();
  rb.encodeCopy(enc, src, srcOffset);
  device.queue.submit([enc.finish()]);
  try {
    return await rb.read();
  } finally {
    rb.destroy();
  }
}
