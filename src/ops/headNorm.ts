// Per-head RMSNorm of q and k in the q|k|v rows, in place (Qwen3), before attention rotates and stores them.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import headNormWgsl from '../../kernels/head_norm.wgsl';
import workgroupSumWgsl from '../../kernels/workgroup_sum.wgsl';

/** Lanes per (head, token) workgroup: heads are 64-256 wide; a power of two for the tree. */
export const HEAD_NORM_LANES = 32;

export interface HeadNormShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  eps: number;
}

export class HeadNormOp {
  private readonly dispatch: Dispatch;

  /** `qkv`: [T][(nHeads + 2 nKvHeads) headDim] f32; `qWeight`, `kWeight`: f32 [headDim]. */
  constructor(ctx: OpContext, private readonly shape: HeadNormShape, b: { qkv: GPUBuffer; qWeight: GPUBuffer; kWeight: GPUBuffer }, label: string) {
    const s = shape;
    const pipeline = ctx.pipeline('head_norm', 'f32', headNormWgsl + '\n' + workgroupSumWgsl, { HD: s.headDim, N_HEADS: s.nHeads, N_KV: s.nKvHeads, EPS: s.eps, WG: HEAD_NORM_LANES });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: b.qkv, 2: b.qWeight, 3: b.kWeight }, label) };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, this.shape.nHeads + this.shape.nKvHeads, nTokens);
  }
}
