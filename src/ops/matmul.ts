// Y[m][colOffset + n] (+)= X[m][K] · W[n][K]ᵀ (+ bias) for a GpuMatrix W, one dispatch per row chunk of W.
// Two prepared variants: matrix-vector (one token per lane, for decode) and a token-tiled matrix-matrix
// (several tokens per lane, for prefill and verification), picked per call by the number of rows.

import type { GpuMatrix } from '../gpu/matrix';
import type { WeightDtype } from '../loaders/repack';
import { specialise } from '../gpu/wgsl';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { RMSNORM_LANES } from './rmsnorm';
import matmulWgsl from '../../kernels/matmul.wgsl';
import matvecSplitKWgsl from '../../kernels/matvec_split_k.wgsl';
import geluTanhWgsl from '../../kernels/gelu_tanh.wgsl';
import xInterleaveWgsl from '../../kernels/x_interleave.wgsl';
import matvecSplitKBatchWgsl from '../../kernels/matvec_split_k_batch.wgsl';
import reduceSharedWgsl from '../../kernels/matvec_reduce_shared.wgsl';
import reduceSubgroupWgsl from '../../kernels/matvec_reduce_subgroup.wgsl';
import f32Wgsl from '../../kernels/dtype/f32.wgsl';
import f16Wgsl from '../../kernels/dtype/f16.wgsl';
import q8Wgsl from '../../kernels/dtype/q8_0.wgsl';
import q4Wgsl from '../../kernels/dtype/q4_0.wgsl';
import q50Wgsl from '../../kernels/dtype/q5_0.wgsl';
import q41Wgsl from '../../kernels/dtype/q4_1.wgsl';
import q51Wgsl from '../../kernels/dtype/q5_1.wgsl';
import q2kWgsl from '../../kernels/dtype/q2_k.wgsl';
import q3kWgsl from '../../kernels/dtype/q3_k.wgsl';
import q4kWgsl from '../../kernels/dtype/q4_k.wgsl';
import q5kWgsl from '../../kernels/dtype/q5_k.wgsl';
import kScaleMinWgsl from '../../kernels/dtype/k_scale_min.wgsl';
import kInt8ScaleWgsl from '../../kernels/dtype/k_int8_scale.wgsl';
import q6kWgsl from '../../kernels/dtype/q6_k.wgsl';
import iq4Wgsl from '../../kernels/dtype/iq4.wgsl';
import iq4nlWgsl from '../../kernels/dtype/iq4_nl.wgsl';
import iq4xsWgsl from '../../kernels/dtype/iq4_xs.wgsl';
import f32DotWgsl from '../../kernels/dtype/f32.dot.wgsl';
import f16DotWgsl from '../../kernels/dtype/f16.dot.wgsl';
import q8DotWgsl from '../../kernels/dtype/q8_0.dot.wgsl';
import q4DotWgsl from '../../kernels/dtype/q4_0.dot.wgsl';
import q50DotWgsl from '../../kernels/dtype/q5_0.dot.wgsl';
import q41DotWgsl from '../../kernels/dtype/q4_1.dot.wgsl';
import q51DotWgsl from '../../kernels/dtype/q5_1.dot.wgsl';
import q2kDotWgsl from '../../kernels/dtype/q2_k.dot.wgsl';
import q3kDotWgsl from '../../kernels/dtype/q3_k.dot.wgsl';
import q4kDotWgsl from '../../kernels/dtype/q4_k.dot.wgsl';
import q5kDotWgsl from '../../kernels/dtype/q5_k.dot.wgsl';
import q6kDotWgsl from '../../kernels/dtype/q6_k.dot.wgsl';
import iq4DotWgsl from '../../kernels/dtype/iq4.dot.wgsl';

export const DTYPE_WGSL: Record<WeightDtype, string> = {
  f32: f32Wgsl, f16: f16Wgsl, q8_0: q8Wgsl, q4_0: q4Wgsl, q4_1: q41Wgsl, q5_0: q50Wgsl, q5_1: q51Wgsl, q2_k: q2kWgsl, q3_k: kInt8ScaleWgsl + q3kWgsl, q4_k: kScaleMinWgsl + q4kWgsl, q5_k: kScaleMinWgsl + q5kWgsl, q6_k: kInt8ScaleWgsl + q6kWgsl,
  iq4_nl: iq4Wgsl + iq4nlWgsl, iq4_xs: iq4Wgsl + iq4xsWgsl,
};
/** dot_chunk_x(n, c) per dtype, for kernels that define x4(i) (the split-K matvec). */
export const DTYPE_DOT_WGSL: Record<WeightDtype, string> = {
  f32: f32DotWgsl, f16: f16DotWgsl, q8_0: q8DotWgsl, q4_0: q4DotWgsl, q4_1: q41DotWgsl, q5_0: q50DotWgsl, q5_1: q51DotWgsl, q2_k: q2kDotWgsl, q3_k: q3kDotWgsl, q4_k: q4kDotWgsl, q5_k: q5kDotWgsl, q6_k: q6kDotWgsl, iq4_nl: iq4DotWgsl, iq4_xs: iq4DotWgsl,
};

/**
 * How a variant splits the work. 'rows': each lane computes R rows of W for TT tokens (matmul.wgsl).
 * 'splitK': LPR lanes share each row, striding over its chunks, WG / LPR rows per workgroup
 * (matvec_split_k.wgsl, one token only): coalesced reads for real GPUs. R is unused there.
 */
export interface MatmulTile {
  kind: 'rows' | 'splitK';
  R: number;
  TT: number;
  WG: number;
  /** splitK: lanes per row (a power of two); 0 = chosen from the row length. */
  LPR?: number;
  /** splitK, quantized weights: keep x block-interleaved in workgroup memory (see matvec_split_k.wgsl). */
  xInterleaved?: boolean;
  /** splitK: add a row's lane sums with subgroup shuffles (needs the 'subgroups' feature). */
  subgroups?: boolean;
}

/** Lanes per row for the splitK matvec: about four chunks per lane, between 4 and 64 lanes. */
/** Types whose chunk is a 32-weight (sub-)block: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, the K-quants and IQ4. */
function isBlockQuant(dtype: WeightDtype): boolean {
  return dtype !== 'f32' && dtype !== 'f16';
}

export function lanesPerRow(dtype: WeightDtype, cols: number): number {
  const chunk = isBlockQuant(dtype) ? 32 : 4;
  const want = Math.ceil(cols / chunk / 4);
  return Math.min(64, Math.max(4, 2 ** Math.ceil(Math.log2(want))));
}

export interface MatmulTiles {
  vector: MatmulTile;
  matrix: MatmulTile;
  /**
   * Batches of 2..maxRows rows (a verify pass, a short prefill batch): the split-K kernel with TT tokens
   * per workgroup (matvec_split_k_batch.wgsl), which reads the weights once per TT tokens with coalesced
   * loads. Absent: `matrix` takes every batch (software adapters, whose lanes want whole rows).
   */
  batch?: MatmulTile & { maxRows: number };
}

/** Batches up to this many rows take the split-K batch kernel where there is one (see MatmulTiles.batch). */
export const SPLIT_K_BATCH_MAX_ROWS = 32;

/**
 * 'splitKi' (the GPU default): splitK with x block-interleaved in workgroup memory for quantized weights.
 * A/B on an H100 in one run: Q8_0/Q4_0 matvec 1.5-2.7x faster on three of the four 0.5B shapes (slower
 * on Q8_0 down), decode Q8_0 +10% (408/401 vs 364/371 tok/s), Q4_0 even within noise.
 */
export type MatvecKind = 'rows' | 'splitK' | 'splitKi' | 'splitKsg';

/** 'splitKsg': splitKi whose row sums use subgroup shuffles instead of a barrier tree in workgroup
 *  memory. Tested on every adapter with subgroups; not measured on a real GPU yet, so not the default.
 *  The batch kernel still adds by the tree, so with splitKsg a verify row is not bit for bit a decode step. */
export const MATVEC_KINDS: readonly MatvecKind[] = ['rows', 'splitK', 'splitKi', 'splitKsg'];

/**
 * Software adapters (lavapipe) want whole rows per lane and no barriers; real GPUs want coalesced reads.
 * `matvec` forces one decode variant (tests run both on every adapter).
 */
export function defaultTiles(dtype: WeightDtype, software: boolean, matvec?: MatvecKind): MatmulTiles {
  const quant = isBlockQuant(dtype);
  const kind = matvec ?? (software ? 'rows' : 'splitKi');
  return {
    // WG 0: chosen with the lanes per row (eight rows per workgroup, 64 to 256 lanes).
    vector: kind !== 'rows'
      ? { kind: 'splitK', R: 1, TT: 1, WG: 0, LPR: 0, xInterleaved: (kind === 'splitKi' || kind === 'splitKsg') && quant, subgroups: kind === 'splitKsg' }
      : { kind: 'rows', R: 4, TT: 1, WG: 64 },
    matrix: { kind: 'rows', R: 4, TT: quant ? 4 : 8, WG: 64 },
    batch: kind !== 'rows' ? { kind: 'splitK', R: 1, TT: 8, WG: 0, LPR: 0, maxRows: SPLIT_K_BATCH_MAX_ROWS } : undefined,
  };
}

export interface MatmulArgs {
  weight: GpuMatrix;
  /** [m][K] f32. */
  x: GPUBuffer;
  /** [m][yStride] f32. */
  y: GPUBuffer;
  yStride: number;
  colOffset?: number;
  /** f32 [N] (the full output width when several matrices write into one y). */
  bias?: GPUBuffer;
  accumulate?: boolean;
  /** (x · Wᵀ + bias) is multiplied by this before it is stored or added to y (default 1: granite's scales). */
  outScale?: number;
  /** The number of rows is step.n_logit_rows rather than step.n_tokens. */
  rowsFromLogits?: boolean;
  /**
   * What the one-token (splitK) variant may compute while staging x, from the previous op's input,
   * so that op's dispatch is skipped in decode: rmsnorm of the residual stream, silu(gate) · up,
   * gelu(gate) · up, or the merge of split attention's partials (with one split, x as attention wrote it).
   * Used only where x can be staged in workgroup memory: see `fusesInput`.
   */
  fusedInput?: { mode: 'rmsnorm'; x: GPUBuffer; weight: GPUBuffer; eps: number } | { mode: 'swiglu' | 'geglu'; x: GPUBuffer }
    | { mode: 'combine'; x: GPUBuffer; partials: GPUBuffer; nHeads: number; headDim: number };
  label: string;
}

/** kernels/matvec_split_k.wgsl's MODE per fused input. */
const FUSED_MODE = { rmsnorm: 1, swiglu: 2, combine: 3, geglu: 4 } as const;

interface ChunkDispatch {
  vector: Dispatch;
  matrix: Dispatch;
  batch?: Dispatch;
  rowCount: number;
}

export class MatmulOp {
  private readonly chunks: ChunkDispatch[] = [];
  readonly tiles: MatmulTiles;
  /** splitK: lanes per row, and vec4s of x staged in workgroup memory (0 = read through the cache). */
  private readonly lpr: number;
  private readonly splitKLanes: number;
  private readonly stagedX4: number;
  /** One-token passes read args.fusedInput (the producing op need not run for them). */
  readonly fusesInput: boolean;

  constructor(ctx: OpContext, readonly args: MatmulArgs, tiles?: MatmulTiles | MatvecKind) {
    const w = args.weight;
    this.tiles = typeof tiles === 'object' ? tiles : defaultTiles(w.dtype, ctx.gpu.adapter.isSoftware, tiles);
    const v = this.tiles.vector;
    this.lpr = v.LPR || lanesPerRow(w.dtype, w.cols);
    // Small matrices need many workgroups to fill a GPU: eight rows per workgroup, 64 to 256 lanes.
    this.splitKLanes = v.WG || Math.min(256, Math.max(64, this.lpr * 8));
    // Workgroup memory of the split-K matvec: staged x, the lanes' partial sums, and per head (M, L) when
    // it merges split attention (MODE 3; one unused entry otherwise).
    const xBytes = w.cols * 4;
    const headBytes = 8 * (args.fusedInput?.mode === 'combine' ? args.fusedInput.nHeads : 1);
    this.stagedX4 = xBytes + this.splitKLanes * 4 + headBytes <= ctx.gpu.limits.maxComputeWorkgroupStorageSize ? w.cols / 4 : 0;
    // A fused rmsnorm sums squares over RMSNORM_LANES lanes, as kernels/rmsnorm.wgsl does (the same bits in decode and batches).
    this.fusesInput = !!args.fusedInput && v.kind === 'splitK' && this.stagedX4 > 0 && (args.fusedInput.mode !== 'rmsnorm' || this.splitKLanes >= RMSNORM_LANES);
    const fused = this.fusesInput ? args.fusedInput : undefined;
    if (fused?.mode === 'combine' && (fused.nHeads * fused.headDim !== w.cols || fused.headDim % 4 !== 0)) {
      throw new RangeError(`combine input: ${fused.nHeads} heads of ${fused.headDim} for K = ${w.cols}`);
    }
    const mode = fused ? FUSED_MODE[fused.mode] : 0;
    const combineHeads = fused?.mode === 'combine' ? fused.nHeads : 1;
    const sg = v.subgroups ? ctx.gpu.adapter.subgroupMinSize : 0;
    if (v.subgroups && (!ctx.gpu.hasSubgroups || !(sg >= 1 && (sg & (sg - 1)) === 0))) {
      throw new RangeError(`the subgroup matvec needs the 'subgroups' feature and a power-of-two subgroup size (adapter: ${ctx.gpu.hasSubgroups ? `min size ${sg}` : 'no subgroups'})`);
    }
    for (const chunk of w.chunks) {
      const common = {
        K: w.cols,
        N_CHUNK: chunk.rowCount,
        N_OFFSET: (args.colOffset ?? 0) + chunk.rowStart,
        ACCUMULATE: args.accumulate ? 1 : 0,
        HAS_BIAS: args.bias ? 1 : 0,
        ...(args.outScale !== undefined && args.outScale !== 1 ? { OUT_SCALE: args.outScale } : {}),
      };
      // The kernels that take several rows of x (matmul, the split-K batch): where a row of y starts, and
      // whether the row count is the batch's or its logit rows'.
      const rowsOfY = { Y_STRIDE: args.yStride, ROWS_FROM_LOGITS: args.rowsFromLogits ? 1 : 0 };
      // Bindings 0-5, the same in every variant (binding 1 is replaced by a fused input's source).
      const plainEntries: Record<number, GPUBuffer> = { 0: ctx.step, 1: args.x, 2: chunk.data, 3: chunk.scales ?? ctx.dummy, 4: args.bias ?? ctx.dummy, 5: args.y };
      const make = (tile: MatmulTile, kind: string): Dispatch => {
        const pipeline = tile.kind === 'splitK'
          ? ctx.pipeline('matvec_split_k', `${w.dtype}.LPR${this.lpr}.WG${this.splitKLanes}.X${this.stagedX4}.M${mode}.H${combineHeads}.I${tile.xInterleaved ? 1 : 0}.SG${sg}`, (sg ? 'enable subgroups;\n' : '')
            + DTYPE_WGSL[w.dtype] + DTYPE_DOT_WGSL[w.dtype] + (sg ? specialise(reduceSubgroupWgsl, { SG: sg }) : reduceSharedWgsl) + specialise(matvecSplitKWgsl, {
            LPR: this.lpr, WG: this.splitKLanes, STAGE_X: this.stagedX4 > 0 ? 'true' : 'false', XS4: Math.max(1, this.stagedX4), MODE: mode,
            X_INTERLEAVED: tile.xInterleaved ? 'true' : 'false', N_HEADS_C: combineHeads, RMS_LANES: RMSNORM_LANES,
          }) + '\n' + geluTanhWgsl + '\n' + xInterleaveWgsl, { ...common, ...(fused?.mode === 'rmsnorm' ? { EPS: fused.eps } : {}), ...(fused?.mode === 'combine' ? { HD_C: fused.headDim } : {}) })
          : ctx.pipeline('matmul', `${w.dtype}.R${tile.R}.TT${tile.TT}`, DTYPE_WGSL[w.dtype] + specialise(matmulWgsl, { R: tile.R, TT: tile.TT }), {
            ...common, ...rowsOfY, WG: tile.WG,
          });
        const splitK = tile.kind === 'splitK';
        const entries: Record<number, GPUBuffer> = { ...plainEntries, 1: splitK && fused ? fused.x : args.x };
        // Declared (so statically used) by every splitK variant, whatever MODE.
        if (splitK) {
          entries[6] = fused?.mode === 'rmsnorm' ? fused.weight : ctx.dummy;
          entries[7] = fused?.mode === 'combine' ? fused.partials : ctx.dummy;
        }
        const bindGroup = ctx.bindGroup(pipeline, entries, `${args.label}.${kind}[${chunk.rowStart}]`);
        return { pipeline, bindGroup };
      };
      const batch = this.tiles.batch;
      const makeBatch = (tile: MatmulTile): Dispatch => {
        const pipeline = ctx.pipeline('matvec_split_k_batch', `${w.dtype}.LPR${this.lpr}.WG${this.splitKLanes}.TT${tile.TT}`,
          DTYPE_WGSL[w.dtype] + DTYPE_DOT_WGSL[w.dtype] + specialise(matvecSplitKBatchWgsl, { LPR: this.lpr, WG: this.splitKLanes, TT: tile.TT }), { ...common, ...rowsOfY });
        const bindGroup = ctx.bindGroup(pipeline, plainEntries, `${args.label}.batch[${chunk.rowStart}]`);
        return { pipeline, bindGroup };
      };
      this.chunks.push({ vector: make(this.tiles.vector, 'vec'), matrix: make(this.tiles.matrix, 'mat'), batch: batch ? makeBatch(batch) : undefined, rowCount: chunk.rowCount });
    }
  }

  /** Workgroups (x, y) of a split-K kernel over `rowCount` rows, WG / LPR rows each; y past 65,535 along x. */
  private splitKGrid(rowCount: number): [number, number] {
    const groups = Math.ceil(rowCount / (this.splitKLanes / this.lpr));
    const x = Math.min(groups, 65535);
    return [x, Math.ceil(groups / x)];
  }

  /** The variant a batch of `nRows` rows runs: vector (one row), batch (split-K, up to its maxRows), else matrix. */
  tileFor(nRows: number): MatmulTile {
    const batch = this.tiles.batch;
    if (nRows === 1) return this.tiles.vector;
    return batch && nRows <= batch.maxRows ? batch : this.tiles.matrix;
  }

  /**
   * Encodes Y for `nRows` rows of X (the kernel reads the exact count from the step uniform), with the
   * variant of a batch of `variantRows` (>= nRows): a pass cut from a longer batch keeps that batch's kernel.
   */
  encode(pass: GPUComputePassEncoder, nRows: number, variantRows = nRows): void {
    if (variantRows < nRows) throw new RangeError(`variant of ${variantRows} rows for ${nRows}`);
    const tile = this.tileFor(variantRows);
    for (const c of this.chunks) {
      if (tile === this.tiles.batch) {
        const [x, y] = this.splitKGrid(c.rowCount);
        encodeDispatch(pass, c.batch!, x, y, Math.ceil(nRows / tile.TT));
        continue;
      }
      const d = tile === this.tiles.vector ? c.vector : c.matrix;
      if (tile.kind === 'splitK') {
        const [x, y] = this.splitKGrid(c.rowCount);
        encodeDispatch(pass, d, x, y);
      } else {
        encodeDispatch(pass, d, Math.ceil(c.rowCount / (tile.R * tile.WG)), Math.ceil(nRows / tile.TT));
      }
    }
  }

}
