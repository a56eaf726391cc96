// m = silu(gate) * up over the fused [gate | up] rows of the FFN's first projection.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import siluMulWgsl from '../../kernels/silu_mul.wgsl';

const WG = 64;

export class SiluMulOp {
  private readonly dispatch: Dispatch;

  constructor(ctx: OpContext, private readonly ffnDim: number, gateUp: GPUBuffer, out: GPUBuffer) {
    const pipeline = ctx.pipeline('silu_mul', 'f32', siluMulWgsl, { F: ffnDim, WG });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: gateUp, 5: out }, 'silu_mul') };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, Math.ceil(this.ffnDim / WG), nTokens);
  }
}
