// A mixture-of-experts FFN (qwen2moe, qwen3moe, granitemoe, Mixtral-style llama; MixtureOfExperts in src/model/config.ts) as five dispatches
// (six with ExpertOrder 'sorted') over a batch of T tokens, all on the GPU (the experts a token takes are
// never read back):
//   router logits = h · Wrᵀ                      [T][E]        (a MatmulOp, made by the model)
//   routes = top-k of softmax, normalised        [T][k]        (moe_route.wgsl; qwen2moe's not normalised)
//   [gate | up] = h · W_gate,eᵀ | h · W_up,eᵀ    [T·k][2 F]    (matvec_experts.wgsl, MODE 0, per matrix)
//   out = silu(gate) · up · W_down,eᵀ            [T·k][d]      (matvec_experts.wgsl, MODE 2)
//   x += (Σ_j w_j · out_j) · residual scale      [T][d]        (moe_combine.wgsl; granitemoe's scale, else 1)
// Each (token, slot) pair is a one-token matvec, so a batch row has a decode step's bits (verify-exact).
// A batch reads an expert's weights once per pair that chose it. llama.cpp's mul_mat_id groups the pairs
// by expert instead, so a prefill pass reads each expert about once. Tried here (bench prefill --profile,
// 64-token pass = 512 pairs over 128 experts, Qwen3-Coder-30B-A3B widths, 1 layer, Q8_0, lavapipe; expert
// matvecs gate_up / down): ungrouped 1246 / 820 ms; the pairs sorted by expert on the GPU, a workgroup per
// pair in that order, 2635 / 1430 ms; tiles of up to 8 pairs of one expert a workgroup, 3496 / 2395 ms.
// On lavapipe grouping costs up to 2x, so it is not the default; the sorted order is an option (ExpertOrder)
// for a GPU, whose passes are bound by weight bytes rather than arithmetic, to measure.

import type { MixtureOfExperts } from '../model/config';
import type { ExpertMatrix } from '../model/weights';
import { specialise } from '../gpu/wgsl';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { DTYPE_DOT_WGSL, DTYPE_WGSL, lanesPerRow } from './matmul';
import matvecExpertsWgsl from '../../kernels/matvec_experts.wgsl';
import xInterleaveWgsl from '../../kernels/x_interleave.wgsl';
import reduceSharedWgsl from '../../kernels/matvec_reduce_shared.wgsl';
import moeRouteWgsl from '../../kernels/moe_route.wgsl';
import moeCombineWgsl from '../../kernels/moe_combine.wgsl';
import moeSortWgsl from '../../kernels/moe_sort.wgsl';

/** Bytes of one (token, slot) pair's routes entry: the expert id and its weight. */
export const ROUTE_BYTES = 8;

/**
 * The order the expert matvecs take a batch's (token, slot) pairs in: 'pairs', the batch's (token by token);
 * 'sorted', expert by expert (moe_sort.wgsl, one more dispatch), so that an expert's rows come from memory
 * about once a pass. The sums are the same bits either way. 'pairs' is the default: on lavapipe 'sorted'
 * measured 1.5-2x slower (above); a GPU, where weight bytes bound a prefill pass, should measure it
 * (bench prefill --expert-order sorted).
 */
export type ExpertOrder = 'pairs' | 'sorted';
export const EXPERT_ORDERS: readonly ExpertOrder[] = ['pairs', 'sorted'];

export interface ExpertBuffers {
  /** [T][d]: the normalised residual stream (the FFN's input). */
  h: GPUBuffer;
  /** [T][d]: the residual stream the FFN's output is added to. */
  x: GPUBuffer;
  /** [T][E]: the router's logits (the router MatmulOp's output). */
  logits: GPUBuffer;
  /** [T·k][id, w]. */
  routes: GPUBuffer;
  /** [T·k]: the pairs expert by expert ('sorted' only). */
  order: GPUBuffer;
  /** [T·k][2 F]: each pair's gate | up. */
  gateUp: GPUBuffer;
  /** [T·k][d]: each pair's expert output. */
  out: GPUBuffer;
}

/** Matvecs of one expert matrix over every (token, slot) pair: one dispatch per chunk of whole experts. */
class ExpertMatvec {
  private readonly dispatches: Dispatch[] = [];
  private readonly rowsPerWorkgroup: number;

  constructor(ctx: OpContext, private readonly w: ExpertMatrix, args: { x: GPUBuffer; y: GPUBuffer; yStride: number; colOffset: number; mode: 0 | 2; used: number; routes: GPUBuffer; order: GPUBuffer | null; label: string }) {
    const m = w.matrix;
    const lpr = lanesPerRow(m.dtype, m.cols);
    const wg = Math.min(256, Math.max(64, lpr * 8));
    this.rowsPerWorkgroup = wg / lpr;
    const staged = m.cols * 4 + wg * 4 <= ctx.gpu.limits.maxComputeWorkgroupStorageSize ? m.cols / 4 : 0;
    // Block-quantized rows (32-weight chunks, 8 vec4s of x each): x interleaved by block (the dense split-K
    // matvec's splitKi layout, 1.5-2.7x faster on an H100 for Q8_0/Q4_0). m.cols is a multiple of 32 there.
    const interleaved = staged > 0 && m.dtype !== 'f32' && m.dtype !== 'f16';
    const source = DTYPE_WGSL[m.dtype] + DTYPE_DOT_WGSL[m.dtype] + reduceSharedWgsl
      + specialise(matvecExpertsWgsl, { LPR: lpr, WG: wg, STAGE_X: staged > 0 ? 'true' : 'false', XS4: Math.max(1, staged), MODE: args.mode, X_INTERLEAVED: interleaved ? 'true' : 'false', ORDERED: args.order ? 'true' : 'false' })
      + '\n' + xInterleaveWgsl;
    for (const chunk of m.chunks) {
      if (chunk.rowStart % w.rowsPerExpert !== 0 || chunk.rowCount % w.rowsPerExpert !== 0) throw new RangeError(`${args.label}: a chunk of rows [${chunk.rowStart}, +${chunk.rowCount}) splits an expert of ${w.rowsPerExpert} rows`);
      const pipeline = ctx.pipeline('matvec_experts', `${m.dtype}.LPR${lpr}.WG${wg}.X${staged}.I${interleaved ? 1 : 0}.M${args.mode}.O${args.order ? 1 : 0}`, source, {
        K: m.cols, N_EXPERT: w.rowsPerExpert, E_FIRST: chunk.rowStart / w.rowsPerExpert, E_COUNT: chunk.rowCount / w.rowsPerExpert,
        N_OFFSET: args.colOffset, Y_STRIDE: args.yStride, K_USED: args.used,
      });
      const bindGroup = ctx.bindGroup(pipeline, { 0: ctx.step, 1: args.x, 2: chunk.data, 3: chunk.scales ?? ctx.dummy, 5: args.y, 6: args.routes, 7: args.order ?? ctx.dummy }, `${args.label}[${chunk.rowStart}]`);
      this.dispatches.push({ pipeline, bindGroup });
    }
  }

  encode(pass: GPUComputePassEncoder, pairs: number): void {
    for (const d of this.dispatches) encodeDispatch(pass, d, Math.ceil(this.w.rowsPerExpert / this.rowsPerWorkgroup), 1, pairs);
  }
}

/** Everything after the router's matmul: route, gate and up, down, and the weighted sum into x. */
export class ExpertFfnOp {
  private readonly route: Dispatch;
  /** 'sorted': the counting sort of the pairs by expert. */
  private readonly sort: Dispatch | null;
  private readonly gate: ExpertMatvec;
  private readonly up: ExpertMatvec;
  private readonly down: ExpertMatvec;
  private readonly combine: Dispatch;

  /**
   * `residualScale`: what the mixture's output is multiplied by before it joins x (granitemoe; else 1); the
   * combine also applies moe.weightsScale (deepseek's expert_weights_scale, which llama.cpp multiplies the
   * weights by: the same up to rounding).
   */
  constructor(ctx: OpContext, private readonly moe: MixtureOfExperts, private readonly dModel: number, w: { gate: ExpertMatrix; up: ExpertMatrix; down: ExpertMatrix }, b: ExpertBuffers, label: string,
    options: { residualScale?: number; order?: ExpertOrder } = {}) {
    const residualScale = (options.residualScale ?? 1) * moe.weightsScale;
    const sorted = options.order === 'sorted';
    const routePipeline = ctx.pipeline('moe_route', 'f32', moeRouteWgsl, { N_EXPERT: moe.count, K_USED: moe.used, NORMALIZE: moe.normalizeWeights ? 1 : 0 });
    this.route = { pipeline: routePipeline, bindGroup: ctx.bindGroup(routePipeline, { 0: ctx.step, 1: b.logits, 2: b.routes }, `${label}.route`) };
    const F = moe.ffnDim;
    const sortPipeline = sorted ? ctx.pipeline('moe_sort', 'u32', moeSortWgsl, { N_EXPERT: moe.count, K_USED: moe.used }) : null;
    this.sort = sortPipeline ? { pipeline: sortPipeline, bindGroup: ctx.bindGroup(sortPipeline, { 0: ctx.step, 1: b.routes, 2: b.order }, `${label}.sort`) } : null;
    const common = { used: moe.used, routes: b.routes, order: sorted ? b.order : null };
    this.gate = new ExpertMatvec(ctx, w.gate, { ...common, x: b.h, y: b.gateUp, yStride: 2 * F, colOffset: 0, mode: 0, label: `${label}.gate` });
    this.up = new ExpertMatvec(ctx, w.up, { ...common, x: b.h, y: b.gateUp, yStride: 2 * F, colOffset: F, mode: 0, label: `${label}.up` });
    this.down = new ExpertMatvec(ctx, w.down, { ...common, x: b.gateUp, y: b.out, yStride: dModel, colOffset: 0, mode: 2, label: `${label}.down` });
    const combinePipeline = ctx.pipeline('moe_combine', 'f32', moeCombineWgsl, { D: dModel, K_USED: moe.used, ...(residualScale !== 1 ? { RES_SCALE: residualScale } : {}) });
    this.combine = { pipeline: combinePipeline, bindGroup: ctx.bindGroup(combinePipeline, { 0: ctx.step, 1: b.out, 2: b.routes, 3: b.x }, `${label}.combine`) };
  }

  /** The dispatches after the router's logits, for T tokens; `group` names each for the profiler. */
  encode(group: (label: string, body: (pass: GPUComputePassEncoder) => void) => void, T: number): void {
    const pairs = T * this.moe.used;
    group('moe_route', (p) => encodeDispatch(p, this.route, Math.ceil(T / 64)));
    const sort = this.sort;
    if (sort) group('moe_sort', (p) => encodeDispatch(p, sort, 1));
    group('matmul.experts_gate_up', (p) => {
      this.gate.encode(p, pairs);
      this.up.encode(p, pairs);
    });
    group('matmul.experts_down', (p) => this.down.encode(p, pairs));
    group('moe_combine', (p) => encodeDispatch(p, this.combine, Math.ceil(this.dModel / 64), T));
  }
}
