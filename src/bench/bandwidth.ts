// The device's streaming bandwidth, measured with kernels/stream.wgsl: the roofline that decode kernels
// are judged against, on whatever adapter runs the benchmark. Several access patterns and workgroup
// sizes are tried and the best is kept (the roofline is what the device can do, not what one kernel does).

import type { Gpu } from '../gpu/device';
import { Usage } from '../gpu/buffers';
import streamWgsl from '../../kernels/stream.wgsl';

export interface BandwidthResult {
  /** Bytes moved (read + written) per second by the best copy kernel. */
  copyBytesPerS: number;
  /** Bytes read per second by the best read-and-sum kernel. */
  readBytesPerS: number;
  bufferBytes: number;
  copyConfig: string;
  readConfig: string;
}

interface StreamConfig {
  strided: boolean;
  WG: number;
  /** vec4s per lane (runs), or total lanes (strided). */
  RUN: number;
  lanes: number;
  unroll: 1 | 4;
}

const CONFIGS: StreamConfig[] = [
  { strided: true, WG: 64, RUN: 0, lanes: 1 << 20, unroll: 1 },
  { strided: true, WG: 256, RUN: 0, lanes: 1 << 20, unroll: 1 },
  { strided: true, WG: 256, RUN: 0, lanes: 1 << 18, unroll: 4 },
  { strided: true, WG: 128, RUN: 0, lanes: 1 << 17, unroll: 4 },
  { strided: false, WG: 8, RUN: 256, lanes: 0, unroll: 1 },
  { strided: false, WG: 64, RUN: 64, lanes: 0, unroll: 1 },
];

/**
 * 256 MiB by default where a binding may be that large: well past the last-level cache of current GPUs
 * (50 MiB on an H100), so the kernels stream from memory rather than from cache.
 */
export async function measureBandwidth(gpu: Gpu, bufferBytes = 256 << 20, iterations = 6): Promise<BandwidthResult> {
  const device = gpu.device;
  // A power of two, so the strided kernels' lengths are multiples of UNROLL x lanes.
  const size = 2 ** Math.floor(Math.log2(Math.min(bufferBytes, gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize)));
  const src = device.createBuffer({ size, usage: Usage.STORAGE | Usage.COPY_DST });
  const dst = device.createBuffer({ size, usage: Usage.STORAGE });
  const vec4s = size / 16;
  const module = device.createShaderModule({ code: streamWgsl, label: 'stream' });

  const time = async (copy: boolean, c: StreamConfig): Promise<number> => {
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { COPY: copy ? 1 : 0, STRIDED: c.strided ? 1 : 0, WG: c.WG, RUN: Math.max(1, c.RUN), UNROLL: c.unroll } },
    });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
    // Strided: enough lanes to fill any GPU (each loops over the rest); runs: one lane per run.
    const lanes = c.strided ? Math.min(vec4s / c.unroll, c.lanes) : Math.ceil(vec4s / c.RUN);
    const groups = Math.ceil(lanes / c.WG);
    const x = Math.min(groups, 65535);
    const y = Math.ceil(groups / x);
    const once = async (n: number) => {
      const enc = device.createCommandEncoder();
      for (let i = 0; i < n; i++) {
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(x, y);
        pass.end();
      }
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await once(1); // warm-up: pipeline compile, first touch of the pages
    const t0 = performance.now();
    await once(iterations);
    const s = (performance.now() - t0) / 1000;
    return ((copy ? 2 : 1) * size * iterations) / s;
  };

  const label = (c: StreamConfig) => (c.strided ? `strided, ${c.lanes} lanes of wg${c.WG}, unroll ${c.unroll}` : `runs of ${c.RUN} vec4 wg${c.WG}`);
  try {
    let copy = { rate: 0, config: '' };
    let read = { rate: 0, config: '' };
    for (const c of CONFIGS) {
      const cr = await time(true, c);
      if (cr > copy.rate) copy = { rate: cr, config: label(c) };
      const rr = await time(false, c);
      if (rr > read.rate) read = { rate: rr, config: label(c) };
    }
    return { copyBytesPerS: copy.rate, readBytesPerS: read.rate, bufferBytes: size, copyConfig: copy.config, readConfig: read.config };
  } finally {
    src.destroy();
    dst.destroy();
  }
}
