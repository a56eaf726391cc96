// The Llama-family decoder (ARCHITECTURES in config.ts) as a sequence of prepared GPU dispatches. One forward
// pass runs a batch of T tokens of one sequence at consecutive positions (T = 1: decode; T = k+1:
// verification of a draft; larger: prefill) through every layer in one command encoder and one submit,
// writing their K/V into the paged cache, and returns the argmax ids and/or logits of the last `logitRows`
// positions.
//
// Per layer (x is the residual stream [T][d]; norm is RMSNorm, or LayerNorm with a bias for starcoder2 and
// stablelm):
//   h = norm(x) · attn_norm;  qkv = h Wqkvᵀ (+ b);  [qwen3: rmsnorm each head of q, k];  rope q,k;
//   k,v → cache;  a = attention(q, cache)
//   x += a Woᵀ (+ b);  h = norm(x) · ffn_norm;  [g|u] = h Wguᵀ;  x += (silu(g) u) Wdownᵀ
//   [starcoder2: u = h Wupᵀ + b;  x += gelu(u) Wdownᵀ + b]   [gemma: x += (gelu(g) u) Wdownᵀ]
//   [granite: each x += branch is x += branch · residual_scale, and attention scales q·k by attention.scale]
//   [qwen3moe, granitemoe, Mixtral-style llama: x += Σ_j w_j (silu(h Wg_jᵀ) · h Wu_jᵀ) Wd_jᵀ over the k experts j the router
//    picks from h (ops/experts.ts), their weights w_j its renormalised softmax]
// with x = embedding rows (· sqrt(d) for gemma, · embedding_scale for granite; + position embedding rows
// for starcoder, which has no rope) before the first layer,
// then logits = norm(x[last rows]) · output_norm · Woutᵀ (/ logit_scale for granite).

import { CancelledError, DeviceLostError, OutOfMemoryError, UsageError } from '../common/errors';
import type { Gpu } from '../gpu/device';
import { Readback } from '../gpu/buffers';
import { OpContext } from '../ops/context';
import { MatmulOp, type MatmulArgs, type MatvecKind } from '../ops/matmul';
import { EmbedOp } from '../ops/embed';
import { RmsNormOp } from '../ops/rmsnorm';
import { SiluMulOp } from '../ops/siluMul';
import { GeluOp } from '../ops/gelu';
import { LayerNormOp } from '../ops/layerNorm';
import { ARGMAX_ROW_BYTES, ArgmaxOp, splitArgmaxRows } from '../ops/argmax';
import { AttentionOp, attentionSplits } from '../ops/attention';
import { HeadNormOp } from '../ops/headNorm';
import { ExpertFfnOp, type ExpertOrder } from '../ops/experts';
import { KvBuffers, type KvType } from '../kvcache/kvBuffers';
import { windowStart, type Sequence } from '../kvcache/sequence';
import type { ModelConfig } from './config';
import type { LayerWeights, Linear, ModelWeights } from './weights';
import { ropeTable } from './rope';
import { alibiSlopes } from './alibi';
import { MAX_CHAIN_STEPS, type WorkspacePlan } from './workspace';
import type { GpuProfiler } from '../gpu/profiler';
import { PassPacer } from './passPacer';
import { checkPrefillLimits, DEFAULT_PREFILL_PASS_BUDGET_MS, DEFAULT_PREFILL_PASSES_IN_FLIGHT, type PrefillLimits } from './prefillLimits';

export { MAX_CHAIN_STEPS } from './workspace';

/** Most greedy passes a GreedyStream keeps in flight. */
export const MAX_PIPELINE_DEPTH = 8;

/**
 * Greedy passes in flight by default. Measured on lavapipe (bench decode --pipeline-depth 1,2,3, same run):
 * 1.09x decode at 0.5B widths (2 layers, 112 ms passes), 1.55x on 24 layers of cut widths (9 ms passes,
 * dispatch-bound as a GPU's are); depth 3 gave 1.15x and 1.79x. The gain is the dead time between passes
 * (the readback's round trip, the host's encoding), hidden behind the GPU's work. 2 discards at most one
 * pass at a stop; not yet measured on a GPU.
 */
export const DEFAULT_PIPELINE_DEPTH = 2;

/** Default ModelRuntimeOptions.windowSlackTokens: a draft of 16 tokens plus the bonus token, rounded up. */
export const WINDOW_SLACK_TOKENS = 32;

/** The profiler's name for each FFN activation's dispatch. */
const ACTIVATION_GROUP: Record<ModelConfig['ffn'], string> = { swiglu: 'silu_mul', geglu: 'geglu', gelu: 'gelu' };

/** A dense FFN: [gate | up] (or up), the activation, down (which adds to x). */
interface DenseFfn {
  kind: 'dense';
  gateUp: MatmulOp[];
  activation: SiluMulOp | GeluOp;
  down: MatmulOp[];
}

/** A mixture of experts: the router's matmul, then ExpertFfnOp (which adds to x), then a shared expert's FFN (which adds to x too) where the model has one. */
interface ExpertFfn {
  kind: 'experts';
  router: MatmulOp[];
  experts: ExpertFfnOp;
  shared: (Omit<DenseFfn, 'kind'> & { gate: MatmulOp[] | null }) | null;
}

/** A per-row norm of the residual stream: RMSNorm or LayerNorm. */
type RowNorm = Pick<RmsNormOp, 'encode'>;

/** Encodes one group of dispatches; a profiled forward gives each group its own timed pass. */
type GroupEncoder = (label: string, body: (pass: GPUComputePassEncoder) => void) => void;

export interface ModelRuntimeOptions {
  /** Most tokens one forward pass takes (prefill is split into batches of this size). */
  maxBatchTokens: number;
  /** Most positions a sequence may reach (the rope table and the block table are sized for it). */
  maxContextTokens: number;
  /** Bytes of GPU memory for the KV pool. */
  kvBudgetBytes: number;
  blockSize: number;
  /** Element type of the KV pool (f16: half the bytes; attention accumulates in f32 either way). */
  kvType: KvType;
  /** Decode matrix-vector variant; default: chosen for the adapter (see ops/matmul.ts). */
  matvec?: MatvecKind;
  /** A mixture of experts: the order its expert matvecs take a batch's (token, slot) pairs in (ops/experts.ts; default 'pairs'). */
  expertOrder?: ExpertOrder;
  /** Keys per split of decode attention (0 = no split); default: chosen for the adapter. */
  attentionSplitKeys?: number;
  /**
   * Passes of up to this many tokens split their attention keys as decode does (1..32; default 32,
   * SPLIT_ATTENTION_MAX_TOKENS). Only benchmarks set less, to price it: below the longest verify pass,
   * speculative decoding on GPU kernels is exact only up to rounding.
   */
  attentionSplitTokens?: number;
  /**
   * Sliding-window models: positions kept behind the window so that a rollback of that many (rejected
   * draft tokens, at most the longest draft + 1) still finds its keys. Default WINDOW_SLACK_TOKENS.
   */
  windowSlackTokens?: number;
  /** false: a sliding-window model keeps every block (the reference of the window tests). Default true. */
  releaseOutOfWindow?: boolean;
  /**
   * Greedy decode passes in flight at once (GreedyStream): 1 waits for each token before encoding the next
   * pass; 2 lets the CPU encode and submit pass i+1 while the GPU runs pass i, at the cost of one discarded
   * pass when generation stops. Default DEFAULT_PIPELINE_DEPTH.
   */
  decodePipelineDepth?: number;
  /**
   * Passes that read nothing back (prefill batches) queued on the GPU at once; a forward waits for the
   * oldest to finish before it submits another, and a cancel is seen then. Default
   * DEFAULT_PREFILL_PASSES_IN_FLIGHT.
   */
  prefillPassesInFlight?: number;
  /**
   * GPU time a prefill pass should take at most: a batch that the last measured pass says would take
   * longer runs as several smaller passes (PassPacer; 16 tokens at least). 0: no bound. Default
   * DEFAULT_PREFILL_PASS_BUDGET_MS.
   */
  prefillPassBudgetMs?: number;
  /**
   * Most rows of logits one pass computes and reads back (the head's output is this many vocabulary rows;
   * see workspace.ts). Default DEFAULT_MAX_LOGIT_ROWS (17); tests that compare every position's logits
   * ask for more.
   */
  maxLogitRows?: number;
}

export interface ForwardRequest {
  tokens: ArrayLike<number>;
  /** Position of tokens[0]; must equal seq.length (the cache holds every earlier position). */
  seq: Sequence;
  /** Logit rows wanted, from the end of the batch (0 = none: a prefill batch that is not the last). */
  logitRows: number;
  /** Read back the full logits (else only the argmax ids). */
  wantLogits: boolean;
  signal?: AbortSignal;
  /**
   * Called after each pass of this batch is submitted (a batch longer than prefillPassTokens runs as
   * several), with the batch's tokens submitted so far: a prefill's progress (the GPU runs at most
   * prefillPassesInFlight passes behind).
   */
  onPass?: (tokensSubmitted: number) => void;
  /** Time every kernel group with GPU timestamps (benchmarks only). */
  profiler?: GpuProfiler;
}

export interface ForwardResult {
  /** Argmax token id of each logit row. */
  ids: Uint32Array;
  /** probs[r] = softmax(logits[r])[ids[r]]: the model's probability of its greedy token (temperature 1). */
  probs?: Float32Array;
  /** [logitRows][vocab] when wantLogits. */
  logits?: Float32Array;
}

export class LlamaModel {
  private readonly ctx: OpContext;
  readonly kv: KvBuffers;
  private readonly buffers: Record<'tokens' | 'x' | 'h' | 'qkv' | 'attn' | 'gateUp' | 'ffn' | 'final' | 'logits' | 'ids' | 'blockTable' | 'rope' | 'partials'
    | 'routerLogits' | 'routes' | 'expertOrder' | 'expertGateUp' | 'expertOut' | 'sharedGate', GPUBuffer>;
  private readonly embed: EmbedOp;
  private readonly layers: { attnNorm: RowNorm; qkv: MatmulOp[]; headNorm: HeadNormOp | null; attention: AttentionOp; attnOut: MatmulOp[]; ffnNorm: RowNorm | null; ffn: DenseFfn | ExpertFfn }[] = [];
  private readonly finalNorm: RowNorm;
  private readonly head: MatmulOp;
  private readonly headDecode: MatmulOp;
  private readonly argmax: ArgmaxOp;
  private readonly idsReadback: Readback;
  private readonly chainOut: GPUBuffer;
  private readonly chainReadback: Readback;
  /** Made on the first request that reads logits back (sampling; greedy reads only the argmax rows). */
  private logitsReadback: Readback | undefined;
  private readonly logitsReadbackBytes: number;
  readonly maxLogitRows: number;
  private readonly splitKeys: number;
  /** Passes of up to this many tokens split attention as decode does (WorkspacePlan.splitTokens). */
  private readonly splitTokens: number;
  /** Resolved ModelRuntimeOptions.decodePipelineDepth. */
  readonly pipelineDepth: number;
  /** Resolved ModelRuntimeOptions.prefillPassesInFlight (setPrefillLimits changes it). */
  private prefillPassesInFlight: number;
  /** Completion of each pass submitted without a readback and perhaps not finished yet, oldest first. */
  private readonly unreadPasses: Promise<unknown>[] = [];
  private readonly pacer: PassPacer;
  /** gpu.pipelines.created at this model's last submit (0 before the first): if it grew by the next submit,
   *  that pass, or work queued before it, may include compiling them, and PassPacer does not time it. */
  private pipelinesCreatedAtSubmit = 0;
  private uploadedBlockTable: number[] = [];
  private disposed = false;

  /**
   * Made by loadModel: `plan`, the workspace its memory check counted (planWorkspace of these options);
   * `sharedKv`, another model's KV buffers of the same shape (a draft beside its target; load.ts checks the
   * shape), else a pool of its own from options.kvBudgetBytes.
   */
  constructor(readonly gpu: Gpu, readonly config: ModelConfig, readonly weights: ModelWeights, readonly options: ModelRuntimeOptions, ctx: OpContext, plan: WorkspacePlan, sharedKv?: KvBuffers) {
    const c = config;
    const o = options;
    // Owns every buffer of the model: weights (loaded through ctx.owner), workspace and KV pool.
    this.ctx = ctx;
    const own = this.ctx.owner;
    this.splitKeys = plan.splitKeys;
    this.splitTokens = plan.splitTokens;
    this.maxLogitRows = plan.maxLogitRows;
    this.pipelineDepth = o.decodePipelineDepth ?? DEFAULT_PIPELINE_DEPTH;
    if (!(Number.isInteger(this.pipelineDepth) && this.pipelineDepth >= 1 && this.pipelineDepth <= MAX_PIPELINE_DEPTH)) {
      throw new UsageError(`decode pipeline depth ${this.pipelineDepth} (1..${MAX_PIPELINE_DEPTH})`);
    }
    const limits = { passesInFlight: o.prefillPassesInFlight ?? DEFAULT_PREFILL_PASSES_IN_FLIGHT, passBudgetMs: o.prefillPassBudgetMs ?? DEFAULT_PREFILL_PASS_BUDGET_MS };
    checkPrefillLimits(limits);
    this.prefillPassesInFlight = limits.passesInFlight;
    this.pacer = new PassPacer(limits.passBudgetMs, o.maxBatchTokens);
    const size = plan.storage;
    // A buffer the plan may size 0 (a dense model's expert buffers, an expert model's dense FFN): 16 bytes then, for the bind groups.
    const atLeast16 = (bytes: number, label: string) => own.storage(Math.max(16, bytes), label);
    this.buffers = {
      tokens: own.storage(size.tokens, 'tokens'),
      x: own.storage(size.x, 'x'),
      h: own.storage(size.h, 'h'),
      qkv: own.storage(size.qkv, 'qkv'),
      attn: own.storage(size.attn, 'attn'),
      // The FFN's buffers: a dense model's or an expert model's.
      gateUp: atLeast16(size.gateUp, 'gateUp'),
      ffn: atLeast16(size.ffn, 'ffn'),
      routerLogits: atLeast16(size.routerLogits, 'router.logits'),
      routes: atLeast16(size.routes, 'routes'),
      expertOrder: atLeast16(size.expertOrder, 'experts.order'),
      expertGateUp: atLeast16(size.expertGateUp, 'experts.gateUp'),
      expertOut: atLeast16(size.expertOut, 'experts.out'),
      sharedGate: atLeast16(size.sharedGate, 'shexp.gate'),
      final: own.storage(size.final, 'final'),
      logits: own.storage(size.logits, 'logits'),
      ids: own.storage(size.ids, 'ids'),
      blockTable: own.storage(size.blockTable, 'blockTable'),
      // The attention kernels' position table: rope's (cos, sin) per position, ALiBi's slope per head, or
      // with learned positions (nRot 0, nothing rotates) a placeholder they bind and never read.
      rope: c.positions === 'alibi' ? own.storageFrom(alibiSlopes(c.nHeads, c.alibiMaxBias), 'alibi.slopes')
        : c.nRot > 0 ? own.storageFrom(ropeTable(o.maxContextTokens, c.nRot, c.ropeTheta, c.ropeScaling, weights.ropeFreqFactors), 'rope') : atLeast16(0, 'rope'),
      partials: own.storage(size.partials, 'attention.partials'),
    };
    const b = this.buffers;
    this.kv = sharedKv ?? new KvBuffers(own, { nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim, blockSize: o.blockSize, kvType: o.kvType }, o.kvBudgetBytes);

    // accumulate: the residual branches, x += (h Wᵀ + b) · residualScale (1 but for granite).
    const linear = (lin: Linear, x: GPUBuffer, y: GPUBuffer, accumulate: boolean, label: string, fusedInput?: MatmulArgs['fusedInput']): MatmulOp[] =>
      lin.parts.map((p) => new MatmulOp(this.ctx, { weight: p.matrix, x, y, yStride: lin.outDim, colOffset: p.colOffset, bias: lin.bias ?? undefined, accumulate, outScale: accumulate ? c.residualScale : 1, label, fusedInput }, o.matvec));

    // A norm of rows of x into y: RMSNorm, which a decode matvec also fuses into its input (`fuseNorm`),
    // or LayerNorm, a dispatch of its own.
    const rowNorm = (weight: GPUBuffer, bias: GPUBuffer | null, y: GPUBuffer, label: string, selectLast = false): RowNorm => {
      const args = { x: b.x, weight, y, width: c.dModel, eps: c.normEps, selectLast, label };
      if (c.norm === 'rms') return new RmsNormOp(this.ctx, args);
      if (!bias) throw new RangeError(`${label}: a LayerNorm without its bias`);
      return new LayerNormOp(this.ctx, { ...args, bias });
    };
    const fuseNorm = (weight: GPUBuffer | null): MatmulArgs['fusedInput'] => (c.norm === 'rms' && weight ? { mode: 'rmsnorm', x: b.x, weight, eps: c.normEps } : undefined);

    if (weights.positionEmbedding && o.maxContextTokens > weights.positionEmbedding.rows) {
      throw new UsageError(`a context of ${o.maxContextTokens} tokens; the model's position embedding has ${weights.positionEmbedding.rows} rows`);
    }
    this.embed = new EmbedOp(this.ctx, weights.tokenEmbedding, b.tokens, b.x, c.embeddingScale, weights.positionEmbedding);
    // A dense FFN (a layer's, or a mixture's shared expert) on the gateUp and ffn buffers: [gate | up] (or up)
    // from h, the activation, down adding to x. A decode down projection computes a gated activation itself,
    // but not one scaled by a row gate (qwen2moe's shared expert: sigmoid of a logit a token).
    const denseFfn = (gateUp: Linear, down: Linear, label: string, fusedNorm?: MatmulArgs['fusedInput'], rowGate?: GPUBuffer): Omit<DenseFfn, 'kind'> => ({
      gateUp: linear(gateUp, b.h, b.gateUp, false, `gate_up${label}`, fusedNorm),
      activation: c.ffn === 'swiglu' ? new SiluMulOp(this.ctx, down.inDim, b.gateUp, b.ffn, rowGate) : new GeluOp(this.ctx, down.inDim, b.gateUp, b.ffn, c.ffn === 'geglu'),
      down: linear(down, b.ffn, b.x, true, `down${label}`, c.ffn === 'gelu' || rowGate ? undefined : { mode: c.ffn, x: b.gateUp }),
    });
    const ffnOf = (L: LayerWeights, l: number): DenseFfn | ExpertFfn => {
      if (L.experts) {
        const { router, ...matrices } = L.experts;
        const buffers = { h: b.h, x: b.x, logits: b.routerLogits, routes: b.routes, order: b.expertOrder, gateUp: b.expertGateUp, out: b.expertOut };
        // A shared expert reads h as the router does (the norm is never fused). Gated (qwen2moe): its logit a
        // token first, which scales the activation.
        const S = L.sharedExpert;
        const shared = S ? {
          gate: S.gate ? linear(S.gate, b.h, b.sharedGate, false, `gate_inp_shexp${l}`) : null,
          ...denseFfn(S.gateUp, S.down, `_shexp${l}`, undefined, S.gate ? b.sharedGate : undefined),
        } : null;
        return {
          kind: 'experts', router: linear(router, b.h, b.routerLogits, false, `router${l}`), shared,
          experts: new ExpertFfnOp(this.ctx, c.experts!, c.dModel, matrices, buffers, `experts${l}`, { residualScale: c.residualScale, order: o.expertOrder }),
        };
      }
      if (!L.gateUp || !L.down) throw new RangeError(`layer ${l}: neither a dense FFN nor experts`);
      return { kind: 'dense', ...denseFfn(L.gateUp, L.down, `${l}`, fuseNorm(L.ffnNorm)) };
    };
    weights.layers.forEach((L, l) => {
      this.layers.push({
        attnNorm: rowNorm(L.attnNorm, L.attnNormBias, b.h, `attn_norm${l}`),
        // A parallel-residual model's FFN reads the attention norm's output from h: that norm is never fused away.
        qkv: linear(L.qkv, b.h, b.qkv, false, `qkv${l}`, fuseNorm(c.parallelResidual ? null : L.attnNorm)),
        headNorm: L.qNorm && L.kNorm
          ? new HeadNormOp(this.ctx, { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, eps: c.normEps }, { qkv: b.qkv, qWeight: L.qNorm, kWeight: L.kNorm }, `head_norm${l}`)
          : null,
        attention: new AttentionOp(this.ctx, {
          nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, nRot: c.nRot, neox: c.ropeStyle === 'neox', blockSize: o.blockSize, slidingWindow: c.slidingWindow, splitKeys: this.splitKeys, splitTokens: this.splitTokens, kvType: o.kvType, scale: c.attentionScale, alibi: c.positions === 'alibi',
        }, { qkv: b.qkv, ropeTable: b.rope, blockTable: b.blockTable, kCache: this.kv.k[l], vCache: this.kv.v[l], out: b.attn, partials: b.partials }, `attn${l}`),
        // Decode with split attention: the output projection merges the splits while staging its input.
        attnOut: linear(L.attnOut, b.attn, b.x, true, `attn_out${l}`,
          this.splitKeys > 0 ? { mode: 'combine', x: b.attn, partials: b.partials, nHeads: c.nHeads, headDim: c.headDim } : undefined),
        // Parallel residual (phi2): no norm of its own; the FFN reads h as the attention norm left it (nothing between writes h).
        ffnNorm: L.ffnNorm ? rowNorm(L.ffnNorm, L.ffnNormBias, b.h, `ffn_norm${l}`) : null,
        ffn: ffnOf(L, l),
      });
    });
    this.finalNorm = rowNorm(weights.outputNorm, weights.outputNormBias, b.final, 'output_norm', true);
    const outputBias = weights.outputBias ?? undefined;
    this.head = new MatmulOp(this.ctx, { weight: weights.output, x: b.final, y: b.logits, yStride: c.vocabSize, rowsFromLogits: true, outScale: c.logitScale, bias: outputBias, label: 'output' }, o.matvec);
    // One-token passes: the head normalises row 0 of x itself (a batch's last row is not row 0, so
    // batches keep the separate norm and `head`).
    this.headDecode = new MatmulOp(this.ctx, { weight: weights.output, x: b.final, y: b.logits, yStride: c.vocabSize, rowsFromLogits: true, outScale: c.logitScale, bias: outputBias, label: 'output.decode',
      fusedInput: fuseNorm(weights.outputNorm) }, o.matvec);
    this.argmax = new ArgmaxOp(this.ctx, c.vocabSize, b.logits, b.ids);
    this.idsReadback = new Readback(gpu.device, plan.readback.ids, 'ids.readback');
    this.chainOut = own.storage(size.chainIds, 'chain.ids');
    this.chainReadback = new Readback(gpu.device, plan.readback.chain, 'chain.readback');
    this.logitsReadbackBytes = plan.readback.logits;
  }

  get maxBatchTokens(): number {
    return this.options.maxBatchTokens;
  }

  /** Most tokens the next prefill pass takes (PassPacer): a longer batch runs as several passes. */
  get prefillPassTokens(): number {
    return this.pacer.passTokens;
  }

  /** The prefill limits in force (ModelRuntimeOptions' prefillPassesInFlight and prefillPassBudgetMs, or their last change). */
  get prefillLimits(): Required<PrefillLimits> {
    return { passesInFlight: this.prefillPassesInFlight, passBudgetMs: this.pacer.budget };
  }

  /**
   * Changes the prefill limits (a user's setting) without a reload; a field left out stays. They apply from
   * the next pass submitted (passes already queued stay queued). A bad value is a UsageError and changes nothing.
   */
  setPrefillLimits(limits: PrefillLimits): void {
    const checked = checkPrefillLimits(limits);
    if (checked.passesInFlight !== undefined) this.prefillPassesInFlight = checked.passesInFlight;
    if (checked.passBudgetMs !== undefined) this.pacer.budget = checked.passBudgetMs;
  }

  /**
   * A forward over a batch; appends the batch's K/V to `seq`. A batch longer than prefillPassTokens that
   * reads at most one logit row runs as several passes, the last reading the row; a cancel between them
   * keeps the passes that ran.
   */
  async forward(req: ForwardRequest): Promise<ForwardResult> {
    this.checkUsable(req.seq, req.signal);
    const T = req.tokens.length;
    if (T < 1 || T > this.options.maxBatchTokens) throw new UsageError(`batch of ${T} tokens (1..${this.options.maxBatchTokens})`);
    if (req.logitRows < 0 || req.logitRows > Math.min(T, this.maxLogitRows)) throw new UsageError(`logitRows ${req.logitRows} for a batch of ${T}`);
    this.checkContext(req.seq.length, T);
    const tokens = new Uint32Array(T);
    for (let i = 0; i < T; i++) tokens[i] = this.checkToken(req.tokens[i]);
    if (req.logitRows > 1 || req.profiler) {
      await this.awaitUnreadPasses(req.seq, req.signal);
      const r = await this.forwardPass(req, tokens);
      req.onPass?.(T);
      return r;
    }
    for (let at = 0; ;) {
      // A pass is sized after the wait for a free place among the passes in flight, which may bring the
      // measurement of the pass before it (sized before, a batch went whole on a pacer not yet told).
      await this.awaitUnreadPasses(req.seq, req.signal);
      const n = Math.min(this.pacer.passTokens, T - at);
      const last = at + n === T;
      // Each pass runs the kernels of the whole batch, so its numbers do not depend on how the pacer cut it.
      const r = await this.forwardPass({ ...req, logitRows: last ? req.logitRows : 0, wantLogits: last && req.wantLogits }, tokens.subarray(at, at + n), T);
      at += n;
      req.onPass?.(at);
      if (last) return r;
    }
  }

  /**
   * One pass (one submit) over `tokens`, checked by forward, which has waited for a place among the passes
   * in flight (awaitUnreadPasses); req.tokens is not read. `kernelTokens`: the
   * batch whose kernels it runs (a pass of a batch that forward cut runs the whole batch's: the matrix
   * kernel and unsplit attention past 32 tokens, where a short batch of its own would run decode's).
   */
  private async forwardPass(req: ForwardRequest, tokens: Uint32Array, kernelTokens = tokens.length): Promise<ForwardResult> {
    const T = tokens.length;
    const seq = req.seq;
    const pos0 = seq.length;
    this.reserve(seq, pos0, T);

    const device = this.gpu.device;
    const splits = this.splitsAt(T, pos0, kernelTokens);
    this.ctx.writeStep(T, pos0, req.logitRows, splits);
    device.queue.writeBuffer(this.buffers.tokens, 0, tokens);
    this.syncBlockTable(seq.blockTable);

    const encoder = device.createCommandEncoder({ label: 'forward' });
    const profiler = req.profiler;
    if (profiler) {
      this.encodeLayers((label, body) => {
        const p = profiler.beginPass(encoder, label);
        body(p);
        p.end();
      }, T, req.logitRows, splits, kernelTokens);
      profiler.encodeResolve(encoder);
    } else {
      const pass = encoder.beginComputePass({ label: 'forward' });
      this.encodeLayers((_, body) => body(pass), T, req.logitRows, splits, kernelTokens);
      pass.end();
    }
    const rows = req.logitRows;
    if (rows > 0) {
      this.idsReadback.encodeCopy(encoder, this.buffers.ids, 0, rows * ARGMAX_ROW_BYTES);
      if (req.wantLogits) this.logitsReadbackBuffer().encodeCopy(encoder, this.buffers.logits, 0, rows * this.config.vocabSize * 4);
    }
    device.queue.submit([encoder.finish()]);
    const submittedMs = performance.now();
    const compiled = this.gpu.pipelines.created !== this.pipelinesCreatedAtSubmit;
    this.pipelinesCreatedAtSubmit = this.gpu.pipelines.created;
    seq.length = pos0 + T;
    if (rows === 0) {
      const done = Promise.race([device.queue.onSubmittedWorkDone(), device.lost]).catch(() => undefined);
      this.unreadPasses.push(done.then(() => this.pacer.record(T, submittedMs, performance.now(), compiled)));
      return { ids: new Uint32Array(0) };
    }
    const { ids, probs } = splitArgmaxRows(await this.readOrLost(this.idsReadback, rows * ARGMAX_ROW_BYTES), rows);
    this.pacer.record(T, submittedMs, performance.now(), compiled);
    // The readback came after every pass submitted before it: none is unfinished.
    this.unreadPasses.length = 0;
    const logits = req.wantLogits ? new Float32Array(await this.readOrLost(this.logitsReadbackBuffer(), rows * this.config.vocabSize * 4)) : undefined;
    return { ids, probs, logits };
  }

  /**
   * `steps` greedy one-token passes in a row with one readback (DESIGN.md, "Speculative decoding without
   * round trips"): `token` is fed at position seq.length, and each pass's argmax becomes the next pass's
   * token on the GPU (copied from the argmax row into the token buffer), so the CPU waits once for all of
   * them instead of once a token. Returns each pass's argmax and its probability; appends `steps`
   * positions (token and the first steps - 1 argmaxes) to `seq`, as `steps` forward calls would.
   * Each pass is its own submit: its step uniforms (position) are queue writes ordered between submits.
   */
  async decodeChain(req: { seq: Sequence; token: number; steps: number; signal?: AbortSignal }): Promise<{ ids: Uint32Array; probs: Float32Array }> {
    this.checkUsable(req.seq, req.signal);
    const { seq, steps } = req;
    const pos0 = seq.length;
    // At most a batch's positions: what a sequence's block budget allows for one pass (heldTokensPerSequence).
    const maxSteps = Math.min(MAX_CHAIN_STEPS, this.options.maxBatchTokens);
    if (!Number.isInteger(steps) || steps < 1 || steps > maxSteps) throw new UsageError(`a chain of ${steps} steps (1..${maxSteps})`);
    const token = this.checkToken(req.token);
    this.checkContext(pos0, steps);
    // Releases what the first pass no longer reads; later passes read less still, but nothing more is released early.
    this.reserve(seq, pos0, steps);
    const device = this.gpu.device;
    device.queue.writeBuffer(this.buffers.tokens, 0, new Uint32Array([token]));
    this.syncBlockTable(seq.blockTable);
    for (let i = 0; i < steps; i++) {
      const encoder = this.encodeFedPass(pos0 + i, i + 1 < steps);
      encoder.copyBufferToBuffer(this.buffers.ids, 0, this.chainOut, i * ARGMAX_ROW_BYTES, ARGMAX_ROW_BYTES);
      if (i + 1 === steps) this.chainReadback.encodeCopy(encoder, this.chainOut, 0, steps * ARGMAX_ROW_BYTES);
      device.queue.submit([encoder.finish()]);
    }
    seq.length = pos0 + steps;
    return splitArgmaxRows(await this.readOrLost(this.chainReadback, steps * ARGMAX_ROW_BYTES), steps);
  }

  /**
   * Submits one greedy one-token pass at position seq.length and returns at once with the promise of its
   * argmax row, read through `out` (GreedyStream keeps several in flight). Its token is `token`, or, when
   * undefined, the argmax of the fed pass submitted before it (copied into the token buffer on the GPU), so
   * a pass can be submitted before the CPU knows its token. Appends the position to `seq`.
   */
  submitFedPass(seq: Sequence, token: number | undefined, out: Readback, signal?: AbortSignal): Promise<{ id: number; p: number }> {
    this.checkUsable(seq, signal);
    const pos = seq.length;
    this.checkContext(pos, 1);
    this.reserve(seq, pos, 1);
    if (token !== undefined) this.gpu.device.queue.writeBuffer(this.buffers.tokens, 0, new Uint32Array([this.checkToken(token)]));
    this.syncBlockTable(seq.blockTable);
    const encoder = this.encodeFedPass(pos, true);
    out.encodeCopy(encoder, this.buffers.ids, 0, ARGMAX_ROW_BYTES);
    this.gpu.device.queue.submit([encoder.finish()]);
    seq.length = pos + 1;
    return this.readOrLost(out, ARGMAX_ROW_BYTES).then((bytes) => {
      const { ids, probs } = splitArgmaxRows(bytes, 1);
      return { id: ids[0], p: probs[0] };
    });
  }

  /**
   * A one-token pass at `pos` in a command encoder of its own (the caller copies the argmax row out and
   * submits); `feedsNext`: its argmax id (the row's first u32) becomes the next pass's token on the GPU.
   * The step uniforms are queue writes, ordered between submits.
   */
  private encodeFedPass(pos: number, feedsNext: boolean): GPUCommandEncoder {
    const splits = this.splitsAt(1, pos);
    this.ctx.writeStep(1, pos, 1, splits);
    const encoder = this.gpu.device.createCommandEncoder({ label: `fed pass ${pos}` });
    const pass = encoder.beginComputePass({ label: 'forward' });
    this.encodeLayers((_, body) => body(pass), 1, 1, splits);
    pass.end();
    if (feedsNext) encoder.copyBufferToBuffer(this.buffers.ids, 0, this.buffers.tokens, 0, 4);
    return encoder;
  }

  /**
   * Waits until fewer than prefillPassesInFlight passes without a readback are queued (oldest first), then
   * checks the request again: a cancel or a lost device stops a prefill between passes.
   */
  private async awaitUnreadPasses(seq: Sequence, signal?: AbortSignal): Promise<void> {
    while (this.unreadPasses.length >= this.prefillPassesInFlight) await this.unreadPasses.shift();
    this.checkUsable(seq, signal);
  }

  /** A readback that reports a lost device as DeviceLostError. */
  private async readOrLost(readback: Readback, byteSize: number): Promise<ArrayBuffer> {
    try {
      return await readback.read(byteSize);
    } catch (e) {
      if (this.gpu.isLost) throw new DeviceLostError((e as Error).message);
      throw e;
    }
  }

  /**
   * Group labels name the kernel; matmul groups are 'matmul.<projection>' (benchmarks key on them).
   * In a one-token pass the GPU matvec computes rmsnorm and silu·up itself while staging its input
   * (MatmulOp.fusesInput), and those dispatches are skipped.
   */
  private encodeLayers(group: GroupEncoder, T: number, logitRows: number, splits: number, kernelTokens = T): void {
    const fused = (ops: MatmulOp[]) => kernelTokens === 1 && ops.every((op) => op.fusesInput);
    // gate|up, the activation unless down computes it, down; `name` prefixes the profiler's matmul groups.
    const encodeDenseFfn = (f: Omit<DenseFfn, 'kind'>, name: string) => {
      group(`matmul.${name}gate_up`, (p) => f.gateUp.forEach((op) => op.encode(p, T, kernelTokens)));
      if (!fused(f.down)) group(ACTIVATION_GROUP[this.config.ffn], (p) => f.activation.encode(p, T));
      group(`matmul.${name}down`, (p) => f.down.forEach((op) => op.encode(p, T, kernelTokens)));
    };
    group('embed', (p) => this.embed.encode(p, T));
    const c = this.config;
    const norm = c.norm === 'rms' ? 'rmsnorm' : 'layernorm';
    for (const L of this.layers) {
      if (!fused(L.qkv)) group(norm, (p) => L.attnNorm.encode(p, T));
      group('matmul.qkv', (p) => L.qkv.forEach((op) => op.encode(p, T, kernelTokens)));
      const headNorm = L.headNorm;
      if (headNorm) group('head_norm', (p) => headNorm.encode(p, T));
      group('attention', (p) => L.attention.encode(p, T, splits, fused(L.attnOut)));
      group('matmul.attn_out', (p) => L.attnOut.forEach((op) => op.encode(p, T, kernelTokens)));
      const ffn = L.ffn;
      if (ffn.kind === 'experts') {
        // The router and the experts both read h, so the norm is never fused into a matvec here.
        const ffnNorm = L.ffnNorm;
        if (ffnNorm) group(norm, (p) => ffnNorm.encode(p, T));
        group('matmul.router', (p) => ffn.router.forEach((op) => op.encode(p, T, kernelTokens)));
        ffn.experts.encode(group, T);
        const shared = ffn.shared;
        if (shared) {
          const gate = shared.gate;
          if (gate) group('matmul.shexp_gate_inp', (p) => gate.forEach((op) => op.encode(p, T, kernelTokens)));
          encodeDenseFfn(shared, 'shexp_');
        }
        continue;
      }
      const ffnNorm = L.ffnNorm;
      if (ffnNorm && !fused(ffn.gateUp)) group(norm, (p) => ffnNorm.encode(p, T));
      encodeDenseFfn(ffn, '');
    }
    if (logitRows > 0) {
      if (fused([this.headDecode])) {
        group('matmul.output', (p) => this.headDecode.encode(p, 1));
      } else {
        group(norm, (p) => this.finalNorm.encode(p, logitRows));
        group('matmul.output', (p) => this.head.encode(p, logitRows));
      }
      group('argmax', (p) => this.argmax.encode(p, logitRows));
    }
  }

  private checkContext(pos0: number, n: number): void {
    if (pos0 + n > this.options.maxContextTokens) {
      throw new OutOfMemoryError(`the sequence would reach ${pos0 + n} tokens; the context holds ${this.options.maxContextTokens}`);
    }
  }

  private checkToken(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) throw new UsageError(`token id ${t} outside the vocabulary (0..${this.config.vocabSize - 1})`);
    return t;
  }

  /**
   * Blocks for positions pos0 .. pos0 + n - 1 of `seq`. A sliding-window model first releases the blocks
   * the pass at pos0 no longer reads (before reserving, so the new tail can reuse them), and refuses a
   * sequence rolled back past what it kept.
   */
  private reserve(seq: Sequence, pos0: number, n: number): void {
    const window = this.config.slidingWindow;
    if (window > 0) {
      if (seq.firstHeldPosition > windowStart(pos0, window)) {
        throw new Error(`the sequence released position ${seq.firstHeldPosition - 1}, which position ${pos0}'s window reads (rolled back past the slack)`);
      }
      if (this.options.releaseOutOfWindow !== false) seq.releaseBefore(windowStart(pos0, window, this.options.windowSlackTokens ?? WINDOW_SLACK_TOKENS));
    }
    seq.reserve(pos0 + n);
  }

  /**
   * Attention splits of a pass of T tokens from pos0 that runs the kernels of a batch of `kernelTokens`:
   * over the keys its last query reads (a window's, at most).
   */
  private splitsAt(T: number, pos0: number, kernelTokens = T): number {
    const window = this.config.slidingWindow;
    const span = window > 0 ? Math.min(window, pos0 + T) : pos0 + T;
    return attentionSplits(kernelTokens, span, this.splitKeys, this.splitTokens);
  }

  /**
   * Before a pass: the model and device are alive, the request is not cancelled, and KV buffers two models
   * share take blocks from one pool only (KvBuffers.sharedPool).
   */
  private checkUsable(seq: Sequence, signal?: AbortSignal): void {
    if (this.disposed) throw new UsageError('the model was disposed');
    this.gpu.assertAlive();
    if (signal?.aborted) throw new CancelledError();
    const shared = this.kv.sharedPool;
    if (shared && seq.pool !== shared) throw new Error('this model\'s KV buffers are shared with another model: its sequences must allocate from the shared pool (kv.sharedPool)');
  }

  private logitsReadbackBuffer(): Readback {
    return (this.logitsReadback ??= new Readback(this.gpu.device, this.logitsReadbackBytes, 'logits.readback'));
  }

  /** Uploads the block table when it changed since the last pass (usually only a new block at the end). */
  private syncBlockTable(table: number[]): void {
    const prev = this.uploadedBlockTable;
    let first = 0;
    while (first < table.length && first < prev.length && prev[first] === table[first]) first++;
    if (first < table.length) {
      this.gpu.device.queue.writeBuffer(this.buffers.blockTable, first * 4, new Uint32Array(table.slice(first)));
    }
    this.uploadedBlockTable = table.slice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.idsReadback.destroy();
    this.chainReadback.destroy();
    this.logitsReadback?.destroy();
    this.ctx.dispose();
  }
}
