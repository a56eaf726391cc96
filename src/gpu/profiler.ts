// GPU timestamps per dispatch group, for benchmarks (not used on the serving path: one compute pass per
// timed group costs more than the single pass a normal forward uses). Each group gets its own pass with
// timestampWrites at its beginning and end.

import { Readback } from './buffers';

export interface KernelTiming {
  label: string;
  ns: number;
}

export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: Readback;
  private labels: string[] = [];

  constructor(device: GPUDevice, readonly maxGroups = 1024) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * maxGroups });
    this.resolve = device.createBuffer({ size: 16 * maxGroups, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
    this.readback = new Readback(device, 16 * maxGroups, 'profiler.readback');
  }

  /** Begins a timed pass for one group of dispatches. */
  beginPass(encoder: GPUCommandEncoder, label: string): GPUComputePassEncoder {
    const i = this.labels.length;
    if (i >= this.maxGroups) throw new RangeError('profiler: too many timed groups in one forward pass');
    this.labels.push(label);
    return encoder.beginComputePass({ label, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
  }

  /** Resolves the timestamps of this encoder's groups; call before finish(). */
  encodeResolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolve, 0);
    this.readback.encodeCopy(encoder, this.resolve, 0, 16 * n);
  }

  /** After the submit: the durations, in the order the groups were encoded. Resets for the next pass. */
  async read(): Promise<KernelTiming[]> {
    const n = this.labels.length;
    if (n === 0) return [];
    const t = new BigUint64Array(await this.readback.read(16 * n));
    const out = this.labels.map((label, i) => ({ label, ns: Number(t[2 * i + 1] - t[2 * i]) }));
    this.labels = [];
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}
