// m = silu(gate) * up over the fused [gate | up] rows of the FFN's first projection (`rowsPerToken` rows a
// token: a mixture of experts' (token, slot) pairs).

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import siluMulWgsl from '../../kernels/silu_mul.wgsl';

const WG = 64;

export class SiluMulOp {
  private readonly dispatch: Dispatch;

  constructor(ctx: OpContext, private readonly ffnDim: number, gateUp: GPUBuffer, out: GPUBuffer, private readonly rowsPerToken = 1) {
    const pipeline = ctx.pipeline('silu_mul', 'f32', siluMulWgsl, { F: ffnDim, WG, ...(rowsPerToken !== 1 ? { ROWS_PER_TOKEN: rowsPerToken } : {}) });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: gateUp, 5: out }, 'silu_mul') };
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    encodeDispatch(pass, this.dispatch, Math.ceil(this.ffnDim / WG), nTokens * this.rowsPerToken);
  }
}
