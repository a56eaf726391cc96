// m = silu(gate) * up over the fused [gate | up] rows of the FFN's first projection; with a row gate
// (qwen2moe's shared expert), times sigmoid of each token's gate logit.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import siluMulWgsl from '../../kernels/silu_mul.wgsl';

const WG = 64;

export class SiluMulOp {
  private readonly dispatch: Dispatch;

  /** `rowGate`: [T] logits; each token's row is scaled by sigmoid of its own. */
  constructor(ctx: OpContext, private readonly ffnDim: number, gateUp: GPUBuffer, out: GPUBuffer, rowGate?: GPUBuffer) {
    const pipeline = ctx.pipeline('silu_mul', 'f32', siluMulWgsl, { F: ffnDim, WG, ROW_GATE: rowGate ? 1 : 0 });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: gateUp, 2: rowGate ?? ctx.dummy, 5: out }, 'silu_mul') };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, Math.ceil(this.ffnDim / WG), nTokens);
  }
}
