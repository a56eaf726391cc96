// The attention block over the paged cache. A batch (T > 1) runs two kernels: rotate q/k and store k/v at
// their slots (rope_store_kv), then causal attention of every query (attention). One token (decode) runs
// one: attention with the rotation and the store fused in (FUSED_ROPE), a dispatch per layer fewer. Each
// has a variant per KV type (f32 | f16 cache; f32 arithmetic either way), named in the pipeline flavour.

import { specialise } from '../gpu/wgsl';
import { encodeDispatch, type Dispatch, type OpContext } from './context';
import { FeatureUnavailableError } from '../common/errors';
import type { KvType } from '../kvcache/kvBuffers';
import ropeWgsl from '../../kernels/rope_store_kv.wgsl';
import ropePairWgsl from '../../kernels/rope_pair.wgsl';
import attentionWgsl from '../../kernels/attention.wgsl';
import combineWgsl from '../../kernels/attention_combine.wgsl';
import { SPLIT_K_BATCH_MAX_ROWS } from './matmul';

export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nRot: number;
  neox: boolean;
  blockSize: number;
  slidingWindow: number;
  /** Keys per split for decode and short batches (flash-decoding); 0 = never split. */
  splitKeys?: number;
  /** Passes of up to this many tokens may split (the partials' rows; default SPLIT_ATTENTION_MAX_TOKENS). */
  splitTokens?: number;
  /** Element type of kCache / vCache (default f32). */
  kvType?: KvType;
  /** What q·k is multiplied by before the softmax (default 1/sqrt(headDim); granite's attention.scale). */
  scale?: number;
  /** ALiBi (refact): ropeTable holds each head's slope (alibiSlopes), and nothing rotates (nRot 0). */
  alibi?: boolean;
}

export interface AttentionBuffers {
  /** [T][(nHeads + 2 nKvHeads) headDim]: q is roped in place in batches (T > 1); one token is roped in the attention kernel. */
  qkv: GPUBuffer;
  /** [positions][nRot/2] (cos, sin); with ALiBi, [nHeads] (slope, 0). */
  ropeTable: GPUBuffer;
  /** u32 block ids of the sequence. */
  blockTable: GPUBuffer;
  /** [blocks][nKvHeads][blockSize][headDim] of the KV type. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** [T][nHeads headDim]. */
  out: GPUBuffer;
  /** [splitTokens][nHeads][max splits][headDim + 2] f32 scratch for split attention (needed when splitKeys > 0). */
  partials?: GPUBuffer;
}

const ROPE_WG = 64;

/** Lanes per attention workgroup; workgroup memory holds WG x headDim floats. */
export function attentionLanes(headDim: number, software: boolean): number {
  if (software) return 8;
  return headDim <= 64 ? 32 : 16;
}

/** Keys per split of decode attention: splitting pays on GPUs, not on a CPU-emulated adapter. */
export function defaultSplitKeys(software: boolean): number {
  return software ? 0 : 64;
}

/**
 * Batches of up to this many tokens split their keys as decode does (a verify pass of k + 1 draft
 * positions, a short prefill batch): each query's splits, and their merge, are those of a decode step at
 * its position, so its numbers are too, bit for bit (with the split-K batch matvec, which has the same
 * limit), and speculative decoding on the GPU kernels gives plain decoding's tokens exactly. Tested on the
 * software adapter with the GPU kernels forced (test/golden/verify-exact); test/kernels/batch-rows checks
 * the kernels on whatever adapter runs it. These passes also get flash-decoding's parallelism over a long
 * context; what that and the extra merge dispatch cost on a GPU: `bench verify --split-tokens 1,32`.
 */
export const SPLIT_ATTENTION_MAX_TOKENS = SPLIT_K_BATCH_MAX_ROWS;

/**
 * How many splits a pass of `nTokens` uses when its last query sees `span` keys (1 = no split, no combine
 * pass). A query that sees fewer keys leaves its later splits empty; the merge skips them.
 */
export function attentionSplits(nTokens: number, span: number, splitKeys: number, splitTokens = SPLIT_ATTENTION_MAX_TOKENS): number {
  if (nTokens > splitTokens || splitKeys <= 0) return 1;
  return Math.max(1, Math.ceil(span / splitKeys));
}

/** rope_store_kv with its KV element type filled in; f16 puts `enable f16;` first (it must precede
 *  every declaration, and OpContext.pipeline keeps leading directives ahead of common.wgsl). */
function ropeSource(kvType: KvType): string {
  const source = specialise(ropeWgsl, { KV: kvType }) + '\n' + ropePairWgsl;
  return kvType === 'f16' ? `enable f16;\n${source}` : source;
}

/** attention.wgsl's `kv_vec` (one vec4 of the cache) and `load4` (it, widened to f32) per KV type. */
const ATTENTION_KV_LOAD: Record<KvType, string> = {
  f32: 'alias kv_vec = vec4<f32>;\nfn load4(x: kv_vec) -> vec4<f32> { return x; }\nfn to_kv(x: vec4<f32>) -> kv_vec { return x; }',
  f16: 'alias kv_vec = vec2<u32>;\nfn load4(x: kv_vec) -> vec4<f32> { return vec4<f32>(unpack2x16float(x.x), unpack2x16float(x.y)); }\n'
    + 'fn to_kv(x: vec4<f32>) -> kv_vec { return vec2<u32>(pack2x16float(x.xy), pack2x16float(x.zw)); }',
};

/** attention.wgsl's holes for the batch variant (rope_store_kv ran first) and the fused decode variant. */
function attentionSource(headDim: number, WG: number, kvType: KvType, fusedRope: boolean, rolled: boolean): string {
  return specialise(attentionWgsl, {
    HD: headDim, WG, KV_LOAD: ATTENTION_KV_LOAD[kvType], FUSED_ROPE: fusedRope ? 'true' : 'false',
    LOOP_BOUND: rolled ? 'select(n, 0u, step.n_tokens == 0xffffffffu)' : 'n',
    KV_ACCESS: fusedRope ? 'read_write' : 'read',
    STORE_NEW: fusedRope
      ? 'fn store_new(i: u32, k: kv_vec, v: kv_vec) { k_cache[i] = k; v_cache[i] = v; }'
      : 'fn store_new(i: u32, k: kv_vec, v: kv_vec) {}',
  }) + '\n' + ropePairWgsl;
}

export class AttentionOp {
  private readonly rope: Dispatch;
  private readonly attend: Dispatch;
  /** One token: rope and the k/v store fused into attention (attention.wgsl FUSED_ROPE). */
  private readonly attendDecode: Dispatch;
  private readonly combine: Dispatch | null;

  constructor(ctx: OpContext, private readonly shape: AttentionShape, b: AttentionBuffers, label: string) {
    const s = shape;
    if (s.headDim % 4 !== 0) throw new RangeError(`head dim ${s.headDim} is not a multiple of 4`);
    if ((s.splitKeys ?? 0) > 0 && !b.partials) throw new RangeError('split attention needs a partials buffer');
    if (s.alibi && s.nRot !== 0) throw new RangeError('ALiBi with rope: the table holds one or the other');
    const kvType = s.kvType ?? 'f32';
    if (kvType === 'f16' && !ctx.device.features.has('shader-f16')) throw new FeatureUnavailableError('shader-f16');
    const ropePipeline = ctx.pipeline('rope_store_kv', `kv${kvType}`, ropeSource(kvType), {
      HD: s.headDim, N_HEADS: s.nHeads, N_KV: s.nKvHeads, N_ROT: s.nRot, NEOX: s.neox ? 1 : 0, BLOCK: s.blockSize, WG: ROPE_WG,
    });
    this.rope = {
      pipeline: ropePipeline,
      bindGroup: ctx.bindGroup(ropePipeline, { 0: ctx.step, 1: b.qkv, 2: b.ropeTable, 3: b.blockTable, 4: b.kCache, 5: b.vCache }, `${label}.rope`),
    };
    const WG = attentionLanes(s.headDim, ctx.gpu.adapter.isSoftware);
    // Lane loops rolled where a CPU JIT compiles the kernel (attention.wgsl loop_bound); the same arithmetic.
    const rolled = ctx.gpu.adapter.cpuJit;
    const constants = {
      N_HEADS: s.nHeads, N_KV: s.nKvHeads, BLOCK: s.blockSize, SCALE: s.scale ?? 1 / Math.sqrt(s.headDim), WINDOW: s.slidingWindow,
      SPLIT_KEYS: s.splitKeys || 64, N_ROT: s.nRot, NEOX: s.neox ? 1 : 0, ALIBI: s.alibi ? 1 : 0,
    };
    const partials = b.partials ?? ctx.dummy;
    const make = (fused: boolean): Dispatch => {
      // The flavour names every choice the source makes (the pipeline cache keys on it, not on the text).
      const flavour = `hd${s.headDim}.wg${WG}.kv${kvType}${fused ? '.rope' : ''}${rolled ? '.rolled' : ''}`;
      const pipeline = ctx.pipeline('attention', flavour, attentionSource(s.headDim, WG, kvType, fused, rolled), constants);
      return {
        pipeline,
        bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: b.qkv, 2: b.kCache, 3: b.vCache, 4: b.blockTable, 5: b.out, 6: partials, 7: b.ropeTable }, `${label}.attention${fused ? '.rope' : ''}`),
      };
    };
    this.attend = make(false);
    this.attendDecode = make(true);
    if ((s.splitKeys ?? 0) > 0) {
      const combinePipeline = ctx.pipeline('attention_combine', 'f32', combineWgsl, { N_HEADS: s.nHeads, HD: s.headDim });
      this.combine = { pipeline: combinePipeline, bindGroup: ctx.bindGroup(combinePipeline, { 0: ctx.step, 1: partials, 5: b.out }, `${label}.combine`) };
    } else {
      this.combine = null;
    }
  }

  /**
   * `splits` must be what the step uniform says (attentionSplits of this step). `combinedByConsumer`: the
   * next op merges the splits itself (the output projection's fused input), so no combine dispatch.
   */
  encode(pass: GPUComputePassEncoder, nTokens: number, splits = 1, combinedByConsumer = false): void {
    const s = this.shape;
    const splitTokens = s.splitTokens ?? SPLIT_ATTENTION_MAX_TOKENS;
    if (splits > 1 && nTokens > splitTokens) throw new RangeError(`split attention over ${nTokens} tokens (partials hold ${splitTokens})`);
    if (combinedByConsumer && nTokens !== 1) throw new RangeError('only a one-token pass merges its splits in the output projection');
    if (nTokens === 1) {
      encodeDispatch(pass, this.attendDecode, s.nHeads, 1, splits);
    } else {
      encodeDispatch(pass, this.rope, Math.ceil(((s.nHeads + 2 * s.nKvHeads) * s.headDim) / 2 / ROPE_WG), nTokens);
      encodeDispatch(pass, this.attend, s.nHeads, nTokens, splits);
    }
    if (splits > 1 && !combinedByConsumer) {
      if (!this.combine) throw new RangeError('split attention without a combine pass');
      encodeDispatch(pass, this.combine, s.nHeads, nTokens);
    }
  }
}
