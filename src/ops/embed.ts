// x[t] = embedding row tokens[t], dequantised (times `scale`: Gemma's sqrt(d)); one dispatch per row chunk
// of the embedding matrix.

import type { GpuMatrix } from '../gpu/matrix';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { DTYPE_WGSL } from './matmul';
import embedWgsl from '../../kernels/embed.wgsl';

const WG = 64;

export class EmbedOp {
  private readonly dispatches: Dispatch[] = [];

  constructor(ctx: OpContext, private readonly table: GpuMatrix, tokens: GPUBuffer, x: GPUBuffer, scale = 1) {
    for (const chunk of table.chunks) {
      const pipeline = ctx.pipeline('embed', table.dtype, DTYPE_WGSL[table.dtype] + embedWgsl, {
        K: table.cols, ROW_BASE: chunk.rowStart, ROW_COUNT: chunk.rowCount, WG, SCALE: scale,
      });
      const bindGroup = ctx.bindGroup(pipeline, { 0: ctx.step, 1: tokens, 2: chunk.data, 3: chunk.scales ?? ctx.dummy, 5: x }, `embed[${chunk.rowStart}]`);
      this.dispatches.push({ pipeline, bindGroup });
    }
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    for (const d of this.dispatches) encodeDispatch(pass, d, Math.ceil(this.table.cols / 4 / WG), nTokens);
  }
}
