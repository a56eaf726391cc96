// m = gelu(up) over the FFN's up projection (StarCoder2's FFN has no gate). The gated models' twin is SiluMulOp.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import geluWgsl from '../../kernels/gelu.wgsl';

const WG = 64;

export class GeluOp {
  private readonly dispatch: Dispatch;

  /** `up`: [T][ffnDim] f32; `out`: [T][ffnDim]. */
  constructor(ctx: OpContext, private readonly ffnDim: number, up: GPUBuffer, out: GPUBuffer) {
    const pipeline = ctx.pipeline('gelu', 'f32', geluWgsl, { F: ffnDim, WG });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: up, 5: out }, 'gelu') };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, Math.ceil(this.ffnDim / WG), nTokens);
  }
}
