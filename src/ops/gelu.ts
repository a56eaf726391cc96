// The GELU FFNs' activation: m = gelu(up) (StarCoder2's FFN has no gate), or m = gelu(gate) · up over the
// fused [gate | up] rows (Gemma's GeGLU). The SwiGLU models' twin is SiluMulOp.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import geluWgsl from '../../kernels/gelu.wgsl';
import geluTanhWgsl from '../../kernels/gelu_tanh.wgsl';

const WG = 64;

export class GeluOp {
  private readonly dispatch: Dispatch;

  /** `up`: [T][ffnDim] f32, or [T][2 ffnDim] (gate | up) when `gated`; `out`: [T][ffnDim]. */
  constructor(ctx: OpContext, private readonly ffnDim: number, up: GPUBuffer, out: GPUBuffer, gated = false) {
    const pipeline = ctx.pipeline('gelu', 'f32', geluWgsl + '\n' + geluTanhWgsl, { F: ffnDim, WG, GATED: gated ? 1 : 0 });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: up, 5: out }, gated ? 'geglu' : 'gelu') };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, Math.ceil(this.ffnDim / WG), nTokens);
  }
}
