// y = (x - mean(x)) / std(x) * weight + bias, per row (LayerNorm: StarCoder2); optionally only the last
// n_logit_rows rows (before the output head). The RMSNorm models' twin is RmsNormOp.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import layernormWgsl from '../../kernels/layernorm.wgsl';
import workgroupSumWgsl from '../../kernels/workgroup_sum.wgsl';

const LANES = 64;

export class LayerNormOp {
  private readonly dispatch: Dispatch;

  constructor(ctx: OpContext, args: { x: GPUBuffer; weight: GPUBuffer; bias: GPUBuffer; y: GPUBuffer; width: number; eps: number; selectLast?: boolean; label: string }) {
    const pipeline = ctx.pipeline('layernorm', 'f32', layernormWgsl + '\n' + workgroupSumWgsl, { K: args.width, EPS: args.eps, SELECT_LAST: args.selectLast ? 1 : 0, WG: LANES });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: args.x, 2: args.weight, 3: args.bias, 5: args.y }, args.label) };
  }

  encode(pass: GPUComputePassEncoder, nRows: number): void {
    encodeDispatch(pass, this.dispatch, nRows);
  }
}
