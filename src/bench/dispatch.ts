// What one dispatch costs, apart from its work: on the host (encoding it through dawn.node) and on the
// GPU (launching it behind a barrier). A decode pass is a chain of ~5 dispatches a layer, each reading
// what the one before wrote, so when the weights stream fast these fixed costs set the floor of a pass.
//
// The kernel does nothing worth timing (one workgroup updates 64 floats from BINDINGS - 1 inputs); its dispatches take turns among
// PIPELINES pipelines, as a decode pass's do, each with a bind group of its own. On the GPU, N dispatches in one
// compute pass are timed against a pass of one, wall clock (submit to onSubmittedWorkDone) and, where the
// device has timestamps, inside the pass: per dispatch = (T(N) - T(1)) / (N - 1). `dependent` dispatches
// all write one buffer (the implementation must put a barrier between them, as between a decode pass's
// kernels); `independent` ones each write their own. On the host, encoding N dispatches the way the
// engine does (ops/context.ts encodeDispatch) is timed per dispatch and per Dawn call.

import type { Gpu } from '../gpu/device';
import { Usage } from '../gpu/buffers';
import { GpuProfiler } from '../gpu/profiler';
import { encodeDispatch, type Dispatch } from '../ops/context';
import { median } from './stats';

/** Buffers bound per dispatch: one written, the rest read (a matvec binds weights, input, output, bias, step...). */
const BINDINGS = 6;

const KERNEL = `
override SCALE: f32 = 0.5;
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
${Array.from({ length: BINDINGS - 1 }, (_, b) => `@group(0) @binding(${b + 1}) var<storage, read> in${b}: array<f32>;`).join('\n')}
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {
  data[i] = data[i] * SCALE + ${Array.from({ length: BINDINGS - 1 }, (_, b) => `in${b}[i]`).join(' + ')};
}
`;

/** Distinct pipelines the dispatches cycle through (a layer of a decode pass runs 5 kernels). */
const PIPELINES = 5;

export interface DispatchCost {
  dispatches: number;
  /** GPU µs per dispatch, each behind a barrier (one buffer), by wall clock; and by timestamps when the device has them. */
  dependentUs: number;
  dependentTimestampUs?: number;
  /** The same for dispatches that write distinct buffers (no barrier needed). */
  independentUs: number;
  independentTimestampUs?: number;
  /** Host µs to encode one dispatch as the engine does (setPipeline, setBindGroup, dispatchWorkgroups). */
  hostEncodeUs: number;
  /** Host µs of queue.submit per dispatch in the command buffer (Dawn translates its commands for the driver there). */
  hostSubmitUs: number;
  /** Host µs per single Dawn call. */
  hostCallUs: { setPipeline: number; setBindGroup: number; dispatchX: number; dispatchXYZ: number };
}

/** `dispatches` per timed pass (≥ 2), each timing the median of `rounds` after a warm-up. */
export async function measureDispatchCost(gpu: Gpu, dispatches = 500, rounds = 7): Promise<DispatchCost> {
  const device = gpu.device;
  const module = device.createShaderModule({ code: KERNEL, label: 'dispatch-cost' });
  const pipelines = Array.from({ length: PIPELINES }, (_, k) => device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { SCALE: 0.5 + k / 16 } } }));
  const buffers = Array.from({ length: dispatches }, () => device.createBuffer({ size: 256, usage: Usage.STORAGE }));
  const inputs = Array.from({ length: BINDINGS - 1 }, () => device.createBuffer({ size: 256, usage: Usage.STORAGE }));
  /** Dispatch i: pipeline i mod PIPELINES; writes buffer 0 (dependent) or buffer i (independent), reads the inputs. */
  const prepare = (onBuffer: (i: number) => GPUBuffer): Dispatch[] => buffers.map((_, i) => {
    const pipeline = pipelines[i % PIPELINES];
    const entries = [onBuffer(i), ...inputs].map((buffer, binding) => ({ binding, resource: { buffer } }));
    return { pipeline, bindGroup: device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }) };
  });
  const chained = prepare(() => buffers[0]);
  const separate = prepare((i) => buffers[i]);
  const profiler = gpu.hasTimestamps ? new GpuProfiler(device, 1) : undefined;
  try {
    /** Median wall ms (and timestamp ms, and ms in submit) of a pass of n dispatches, dependent (all on buffer 0) or not. */
    const gpuPass = async (n: number, dependent: boolean): Promise<{ wallMs: number; timestampMs?: number; submitMs: number }> => {
      const wall: number[] = [];
      const stamped: number[] = [];
      const submits: number[] = [];
      for (let r = 0; r <= rounds; r++) {
        const encoder = device.createCommandEncoder();
        const pass = profiler ? profiler.beginPass(encoder, 'dispatches') : encoder.beginComputePass();
        for (let i = 0; i < n; i++) encodeDispatch(pass, (dependent ? chained : separate)[i], 1);
        pass.end();
        profiler?.encodeResolve(encoder);
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        const submitMs = performance.now() - t0;
        await device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        const ns = profiler ? (await profiler.read())[0].ns : undefined;
        if (r === 0) continue; // warm-up
        wall.push(ms);
        submits.push(submitMs);
        if (ns !== undefined) stamped.push(ns / 1e6);
      }
      return { wallMs: median(wall), timestampMs: stamped.length > 0 ? median(stamped) : undefined, submitMs: median(submits) };
    };
    const perDispatchUs = (one: number, many: number) => ((many - one) / (dispatches - 1)) * 1000;
    const per = async (dependent: boolean) => {
      const one = await gpuPass(1, dependent);
      const many = await gpuPass(dispatches, dependent);
      return {
        us: perDispatchUs(one.wallMs, many.wallMs),
        submitUs: perDispatchUs(one.submitMs, many.submitMs),
        timestampUs: one.timestampMs !== undefined && many.timestampMs !== undefined ? perDispatchUs(one.timestampMs, many.timestampMs) : undefined,
      };
    };
    const dependent = await per(true);
    const independent = await per(false);

    /** Median host µs per iteration of `body` over `dispatches` iterations in an open pass (never submitted). */
    const host = (body: (pass: GPUComputePassEncoder, i: number) => void): number => {
      const times: number[] = [];
      for (let r = 0; r <= rounds; r++) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipelines[0]);
        pass.setBindGroup(0, chained[0].bindGroup);
        const t0 = performance.now();
        for (let i = 0; i < dispatches; i++) body(pass, i);
        const ms = performance.now() - t0;
        pass.end();
        encoder.finish();
        if (r > 0) times.push(ms);
      }
      return (median(times) / dispatches) * 1000;
    };
    return {
      dispatches,
      dependentUs: dependent.us,
      dependentTimestampUs: dependent.timestampUs,
      independentUs: independent.us,
      independentTimestampUs: independent.timestampUs,
      hostEncodeUs: host((pass, i) => encodeDispatch(pass, chained[i], 1)),
      hostSubmitUs: dependent.submitUs,
      hostCallUs: {
        setPipeline: host((pass, i) => pass.setPipeline(pipelines[i % PIPELINES])),
        setBindGroup: host((pass, i) => pass.setBindGroup(0, chained[i].bindGroup)),
        dispatchX: host((pass) => pass.dispatchWorkgroups(1)),
        dispatchXYZ: host((pass) => pass.dispatchWorkgroups(1, 1, 1)),
      },
    };
  } finally {
    profiler?.destroy();
    for (const b of [...buffers, ...inputs]) b.destroy();
  }
}
