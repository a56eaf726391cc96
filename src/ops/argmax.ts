// ids[r] = argmax of logit row r, on the GPU: greedy decoding reads back 4 bytes, not a vocabulary row.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import argmaxWgsl from '../../kernels/argmax.wgsl';

export class ArgmaxOp {
  private readonly dispatch: Dispatch;

  constructor(ctx: OpContext, vocabSize: number, logits: GPUBuffer, ids: GPUBuffer) {
    // A GPU wants many lanes on the one row (151,936 logits); lavapipe runs a workgroup on one thread.
    const lanes = !ctx.gpu.adapter.isSoftware && ctx.gpu.limits.maxComputeInvocationsPerWorkgroup >= 1024 ? 1024 : 256;
    const pipeline = ctx.pipeline('argmax', 'f32', argmaxWgsl, { V: vocabSize, WG: lanes });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: logits, 5: ids }, 'argmax') };
  }

  encode(pass: GPUComputePassEncoder, nRows: number): void {
    encodeDispatch(pass, this.dispatch, nRows);
  }
}
