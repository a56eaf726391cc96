// x[t] = embedding row tokens[t], dequantised (times `scale`: Gemma's sqrt(d)); one dispatch per row chunk
// of the embedding matrix. With a learned position embedding (starcoder), then x[t] += its row pos0 + t.

import type { GpuMatrix } from '../gpu/matrix';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { DTYPE_WGSL } from './matmul';
import embedWgsl from '../../kernels/embed.wgsl';

const WG = 64;

export class EmbedOp {
  private readonly dispatches: Dispatch[] = [];

  constructor(ctx: OpContext, private readonly table: GpuMatrix, tokens: GPUBuffer, x: GPUBuffer, scale = 1, positions: GpuMatrix | null = null) {
    // The token rows first: the position rows add to them.
    const lookups = [{ m: table, addsPositions: false, rowScale: scale }, ...(positions ? [{ m: positions, addsPositions: true, rowScale: 1 }] : [])];
    for (const { m, addsPositions, rowScale } of lookups) {
      if (m.cols !== table.cols) throw new RangeError(`embedding widths ${table.cols} and ${m.cols}`);
      for (const chunk of m.chunks) {
        const pipeline = ctx.pipeline('embed', m.dtype, DTYPE_WGSL[m.dtype] + embedWgsl, {
          K: m.cols, ROW_BASE: chunk.rowStart, ROW_COUNT: chunk.rowCount, WG, SCALE: rowScale, POSITIONS: addsPositions ? 1 : 0,
        });
        const bindGroup = ctx.bindGroup(pipeline, { 0: ctx.step, 1: tokens, 2: chunk.data, 3: chunk.scales ?? ctx.dummy, 5: x }, `${addsPositions ? 'position_embed' : 'embed'}[${chunk.rowStart}]`);
        this.dispatches.push({ pipeline, bindGroup });
      }
    }
  }

  encode(pass: GPUComputePassEncoder, nTokens: number): void {
    for (const d of this.dispatches) encodeDispatch(pass, d, Math.ceil(this.table.cols / 4 / WG), nTokens);
  }
}
