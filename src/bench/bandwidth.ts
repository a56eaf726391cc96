// The device's streaming bandwidth, measured with the copy and read kernels of kernels/stream.wgsl:
// the roofline that decode kernels are judged against, on whatever adapter runs the benchmark.

import type { Gpu } from '../gpu/device';
import { Usage } from '../gpu/buffers';
import streamWgsl from '../../kernels/stream.wgsl';

export interface BandwidthResult {
  /** Bytes moved (read + written) per second by the copy kernel. */
  copyBytesPerS: number;
  /** Bytes read per second by the read-and-sum kernel. */
  readBytesPerS: number;
  bufferBytes: number;
}

const RUN = 256;

export async function measureBandwidth(gpu: Gpu, bufferBytes = 64 << 20, iterations = 8): Promise<BandwidthResult> {
  const device = gpu.device;
  const size = Math.min(bufferBytes, gpu.limits.maxStorageBufferBindingSize);
  const src = device.createBuffer({ size, usage: Usage.STORAGE | Usage.COPY_DST });
  const dst = device.createBuffer({ size, usage: Usage.STORAGE });
  const vec4s = size / 16;
  const module = device.createShaderModule({ code: streamWgsl, label: 'stream' });
  const make = (mode: number) => {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { MODE: mode, WG: 64, RUN } } });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
    return { pipeline, bindGroup };
  };
  const run = async (mode: number): Promise<number> => {
    const { pipeline, bindGroup } = make(mode);
    const lanes = mode === 0 ? vec4s : Math.ceil(vec4s / RUN);
    const groups = Math.ceil(lanes / 64);
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
    await once(1); // warm-up (pipeline compile, first touch)
    const t0 = performance.now();
    await once(iterations);
    const s = (performance.now() - t0) / 1000;
    return ((mode === 0 ? 2 : 1) * size * iterations) / s;
  };
  try {
    const copyBytesPerS = await run(0);
    const readBytesPerS = await run(1);
    return { copyBytesPerS, readBytesPerS, bufferBytes: size };
  } finally {
    src.destroy();
    dst.destroy();
  }
}
