// A mixture-of-experts FFN (qwen3moe; MixtureOfExperts in src/model/config.ts) over a batch of T tokens,
// all on the GPU (the experts a token takes are never read back). P = T · k (token, slot) pairs:
//   router logits = h · Wrᵀ                          [T][E]       (a MatmulOp, made by the model)
//   routes = top-k of softmax, renormalised;         [P][id, w]   (moe_route.wgsl, one workgroup)
//     the pairs grouped by expert into tiles         order [P], tiles
//   [gate | up] = h · W_gate,eᵀ | h · W_up,eᵀ        [P][2 F]     (matvec_experts.wgsl, per matrix)
//   act = silu(gate) · up                            [P][F]       (silu_mul.wgsl, k rows a token)
//   out = act · W_down,eᵀ                            [P][d]       (matvec_experts.wgsl)
//   x += Σ_j w_j · out_j                             [T][d]       (moe_combine.wgsl)
// A tile is up to EXPERT_TILE pairs of one expert, whose weights one workgroup fetches once for all of
// them, as llama.cpp's mul_mat_id: a prefill pass reads each expert once per tile instead of once per
// pair. Each pair's sums have the same order whatever its tile, so a batch row has a decode step's bits.

import type { MixtureOfExperts } from '../model/config';
import type { ExpertMatrix } from '../model/weights';
import { specialise } from '../gpu/wgsl';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { DTYPE_DOT_WGSL, DTYPE_WGSL, lanesPerRow } from './matmul';
import { SiluMulOp } from './siluMul';
import matvecExpertsWgsl from '../../kernels/matvec_experts.wgsl';
import moeRouteWgsl from '../../kernels/moe_route.wgsl';
import moeCombineWgsl from '../../kernels/moe_combine.wgsl';

/** Bytes of one (token, slot) pair's routes entry: the expert id and its weight. */
export const ROUTE_BYTES = 8;

/** Most pairs of one expert a workgroup of the expert matvec takes (the split-K batch matvec's 8 tokens). */
export const EXPERT_TILE = 8;

/** Tiles of P pairs at most: ceil(c / TILE) per expert with c pairs sums to at most ceil(P / TILE) + (experts used). */
export function maxExpertTiles(pairs: number, experts: number): number {
  return Math.ceil(pairs / EXPERT_TILE) + Math.min(experts, pairs);
}

/** Bytes of the tiles buffer for P pairs: the count, then (expert, first, n) per tile. */
export function expertTilesBytes(pairs: number, experts: number): number {
  return (1 + 3 * maxExpertTiles(pairs, experts)) * 4;
}

export interface ExpertBuffers {
  /** [T][d]: the normalised residual stream (the FFN's input). */
  h: GPUBuffer;
  /** [T][d]: the residual stream the FFN's output is added to. */
  x: GPUBuffer;
  /** [T][E]: the router's logits (the router MatmulOp's output). */
  logits: GPUBuffer;
  /** [P][id, w]. */
  routes: GPUBuffer;
  /** [P]: the pairs expert by expert. */
  order: GPUBuffer;
  /** expertTilesBytes(P, E). */
  tiles: GPUBuffer;
  /** [P][2 F]: each pair's gate | up. */
  gateUp: GPUBuffer;
  /** [P][F]: each pair's silu(gate) · up. */
  act: GPUBuffer;
  /** [P][d]: each pair's expert output. */
  out: GPUBuffer;
}

/** Matvecs of one expert matrix over the tiles of pairs: one dispatch per chunk of whole experts. */
class ExpertMatvec {
  private readonly dispatches: Dispatch[] = [];
  private readonly rowsPerWorkgroup: number;

  constructor(ctx: OpContext, private readonly w: ExpertMatrix, args: { x: GPUBuffer; rowDiv: number; y: GPUBuffer; yStride: number; colOffset: number; order: GPUBuffer; tiles: GPUBuffer; label: string }) {
    const m = w.matrix;
    const lpr = lanesPerRow(m.dtype, m.cols);
    const wg = Math.min(256, Math.max(64, lpr * 8));
    this.rowsPerWorkgroup = wg / lpr;
    const source = DTYPE_WGSL[m.dtype] + DTYPE_DOT_WGSL[m.dtype] + specialise(matvecExpertsWgsl, { LPR: lpr, WG: wg, TT: EXPERT_TILE });
    for (const chunk of m.chunks) {
      if (chunk.rowStart % w.rowsPerExpert !== 0 || chunk.rowCount % w.rowsPerExpert !== 0) throw new RangeError(`${args.label}: a chunk of rows [${chunk.rowStart}, +${chunk.rowCount}) splits an expert of ${w.rowsPerExpert} rows`);
      const pipeline = ctx.pipeline('matvec_experts', `${m.dtype}.LPR${lpr}.WG${wg}.TT${EXPERT_TILE}`, source, {
        K: m.cols, N_EXPERT: w.rowsPerExpert, Y_STRIDE: args.yStride, ROW_DIV: args.rowDiv,
      });
      // ExpertChunk { e_first, e_count, n_offset }.
      const range = ctx.owner.uniform(16, `${args.label}.chunk[${chunk.rowStart}]`);
      ctx.device.queue.writeBuffer(range, 0, new Uint32Array([chunk.rowStart / w.rowsPerExpert, chunk.rowCount / w.rowsPerExpert, args.colOffset, 0]));
      const bindGroup = ctx.bindGroup(pipeline, { 0: range, 1: args.x, 2: chunk.data, 3: chunk.scales ?? ctx.dummy, 5: args.y, 6: args.order, 7: args.tiles }, `${args.label}[${chunk.rowStart}]`);
      this.dispatches.push({ pipeline, bindGroup });
    }
  }

  /** `tiles`: an upper bound of the tiles of this pass (the kernel reads the count the router wrote). */
  encode(pass: GPUComputePassEncoder, tiles: number): void {
    for (const d of this.dispatches) encodeDispatch(pass, d, Math.ceil(this.w.rowsPerExpert / this.rowsPerWorkgroup), 1, tiles);
  }
}

/** Everything after the router's matmul: route and group, gate and up, silu, down, and the weighted sum into x. */
export class ExpertFfnOp {
  private readonly route: Dispatch;
  private readonly gate: ExpertMatvec;
  private readonly up: ExpertMatvec;
  private readonly activation: SiluMulOp;
  private readonly down: ExpertMatvec;
  private readonly combine: Dispatch;

  constructor(ctx: OpContext, private readonly moe: MixtureOfExperts, private readonly dModel: number, w: { gate: ExpertMatrix; up: ExpertMatrix; down: ExpertMatrix }, b: ExpertBuffers, label: string) {
    const routePipeline = ctx.pipeline('moe_route', 'f32', moeRouteWgsl, { N_EXPERT: moe.count, K_USED: moe.used, TT: EXPERT_TILE });
    this.route = { pipeline: routePipeline, bindGroup: ctx.bindGroup(routePipeline, { 0: ctx.step, 1: b.logits, 2: b.routes, 3: b.order, 4: b.tiles }, `${label}.route`) };
    const F = moe.ffnDim;
    const grouped = { order: b.order, tiles: b.tiles };
    this.gate = new ExpertMatvec(ctx, w.gate, { ...grouped, x: b.h, rowDiv: moe.used, y: b.gateUp, yStride: 2 * F, colOffset: 0, label: `${label}.gate` });
    this.up = new ExpertMatvec(ctx, w.up, { ...grouped, x: b.h, rowDiv: moe.used, y: b.gateUp, yStride: 2 * F, colOffset: F, label: `${label}.up` });
    this.activation = new SiluMulOp(ctx, F, b.gateUp, b.act, moe.used);
    this.down = new ExpertMatvec(ctx, w.down, { ...grouped, x: b.act, rowDiv: 1, y: b.out, yStride: dModel, colOffset: 0, label: `${label}.down` });
    const combinePipeline = ctx.pipeline('moe_combine', 'f32', moeCombineWgsl, { D: dModel, K_USED: moe.used });
    this.combine = { pipeline: combinePipeline, bindGroup: ctx.bindGroup(combinePipeline, { 0: ctx.step, 1: b.out, 2: b.routes, 3: b.x }, `${label}.combine`) };
  }

  /** The dispatches after the router's logits, for T tokens; `group` names each for the profiler. */
  encode(group: (label: string, body: (pass: GPUComputePassEncoder) => void) => void, T: number): void {
    const tiles = maxExpertTiles(T * this.moe.used, this.moe.count);
    group('moe_route', (p) => encodeDispatch(p, this.route, 1));
    group('matmul.experts_gate_up', (p) => {
      this.gate.encode(p, tiles);
      this.up.encode(p, tiles);
    });
    group('silu_mul', (p) => this.activation.encode(p, T));
    group('matmul.experts_down', (p) => this.down.encode(p, tiles));
    group('moe_combine', (p) => encodeDispatch(p, this.combine, Math.ceil(this.dModel / 64), T));
  }
}
