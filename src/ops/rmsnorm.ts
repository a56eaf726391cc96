// y = x / rms(x) * weight, per row; optionally only the last n_logit_rows rows (before the output head).

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import rmsnormWgsl from '../../kernels/rmsnorm.wgsl';
import workgroupSumWgsl from '../../kernels/workgroup_sum.wgsl';

/**
 * Lanes that add a row's squares (rmsnorm.wgsl's workgroup). The matvec that normalises its own input in
 * decode (matvec_split_k.wgsl MODE 1) adds them with as many lanes, in the same order, for the same bits.
 */
export const RMSNORM_LANES = 64;

export class RmsNormOp {
  private readonly dispatch: Dispatch;

  constructor(ctx: OpContext, args: { x: GPUBuffer; weight: GPUBuffer; y: GPUBuffer; width: number; eps: number; selectLast?: boolean; label: string }) {
    const pipeline = ctx.pipeline('rmsnorm', 'f32', rmsnormWgsl + '\n' + workgroupSumWgsl, { K: args.width, EPS: args.eps, SELECT_LAST: args.selectLast ? 1 : 0, WG: RMSNORM_LANES });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: args.x, 2: args.weight, 5: args.y }, args.label) };
  }

  encode(pass: GPUComputePassEncoder, nRows: number): void {
    encodeDispatch(pass, this.dispatch, nRows);
  }
}
