// What every op needs to build its pipelines and bind groups: the device, the pipeline cache, the
// per-step uniform, and a dummy buffer for bindings a variant does not read.

import type { Gpu } from '../gpu/device';
import { BufferOwner } from '../gpu/buffers';
import commonWgsl from '../../kernels/common.wgsl';

export const STEP_UNIFORM_BYTES = 16;

export class OpContext {
  readonly owner: BufferOwner;
  /** Step { n_tokens, pos0, n_logit_rows, n_splits }: written once per forward pass. */
  readonly step: GPUBuffer;
  /** 16 zero bytes, bound where a variant declares but does not use a binding. */
  readonly dummy: GPUBuffer;

  constructor(readonly gpu: Gpu, label: string) {
    this.owner = new BufferOwner(gpu.device, label);
    this.step = this.owner.uniform(STEP_UNIFORM_BYTES, 'step');
    this.dummy = this.owner.storage(16, 'dummy');
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** `body` may start with WGSL directives (`enable subgroups;`): they stay ahead of common.wgsl. */
  pipeline(op: string, flavour: string, body: string, constants: Record<string, number>): GPUComputePipeline {
    const directives = /^(?:\s*(?:enable|requires|diagnostic)\b[^;]*;)*/.exec(body)![0];
    return this.gpu.pipelines.get({ op, flavour, source: directives + '\n' + commonWgsl + '\n' + body.slice(directives.length), constants });
  }

  bindGroup(pipeline: GPUComputePipeline, buffers: Record<number, GPUBuffer>, label: string): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: Object.entries(buffers).map(([binding, buffer]) => ({ binding: Number(binding), resource: { buffer } })),
    });
  }

  /** `attentionSplits`: splits of the key range per query (see kernels/attention.wgsl). */
  writeStep(nTokens: number, pos0: number, nLogitRows: number, attentionSplits = 1): void {
    this.device.queue.writeBuffer(this.step, 0, new Uint32Array([nTokens, pos0, nLogitRows, attentionSplits]));
  }

  dispose(): void {
    this.owner.dispose();
  }
}

/** A prepared dispatch: pipeline and bind group made once, encoded every step. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
}

/** Dispatches encoded by this process so far (benchmarks report dispatches per token). */
let dispatchesEncoded = 0;
export function encodedDispatches(): number {
  return dispatchesEncoded;
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch, x: number, y = 1, z = 1): void {
  if (x === 0 || y === 0 || z === 0) return;
  dispatchesEncoded++;
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(x, y, z);
}
