// Speculative decoding: a draft proposes k tokens, the target verifies all of them in one forward pass over
// k+1 positions, and the output is exactly what the target alone would have produced (greedy: the same
// tokens; sampling: the same distribution, by the rejection rule in speculativeSampling.ts).
//
// The state between passes: the target's sequence holds K/V for every committed token but the last one,
// `pending`. A pass feeds [pending, d_1..d_k] and reads back k+1 rows: row i is the target's choice after
// d_i (row 0: after pending). If d_1..d_j are kept and row j gives the bonus token b, the sequence keeps
// pending and d_1..d_j (it is truncated: the rejected slots are overwritten by the next pass) and b becomes
// the new pending token. Every pass thus commits between 1 and k+1 tokens.
//
// When the draft-length controller finds that drafting does not pay (k = 0) on a greedy request, the
// target decodes plain, pipelined (GreedyStream: passes in flight, each fed the previous argmax on the
// GPU) until the next probe of the draft, instead of one-position verify passes one at a time; the
// controller prices k = 0 at that measured cost.

import { CancelledError, UsageError } from '../common/errors';
import type { Sequence } from '../kvcache/sequence';
import type { DraftSource, ForwardModel, Proposal } from './draft';
import { DraftLengthController } from './draftLength';
import type { GenerateOptions, GenerateResult, PrefillProgress } from './generate';
import { GREEDY, isGreedy, Rng, tokenProbability } from './sampler';
import { acceptGreedy, acceptStandard, type AcceptanceRule } from './speculativeSampling';
import { GreedyStream, type FedPassModel } from '../model/greedyStream';

export interface SpeculativeOptions extends GenerateOptions {
  draft: DraftSource;
  /** Tokens drafted per pass: fixed, or 'auto' (measured acceptance and costs, see draftLength.ts). */
  draftLength: number | 'auto';
  /** Upper bound of the automatic draft length (default 16). */
  maxDraftLength?: number;
  /**
   * The draft-length controller, when the caller keeps one across requests (one per draft source and
   * setting): completions are short (tens of tokens), too short for a fresh controller to learn the
   * acceptance rate and pass costs before the request ends. Default: a fresh one from draftLength.
   */
  lengths?: DraftLengthController;
  /** Sampling's acceptance rule; only tests replace it (with a broken one, to see the tests catch it). */
  acceptanceRule?: AcceptanceRule;
  /**
   * Leave the draft's state (a draft model's KV) in place at the end, so the next request on similar text
   * reuses it; the owner releases it with draft.reset(). Default false: reset after the request.
   */
  keepDraftState?: boolean;
  /** The document the prompt comes from: a draft model keeps its cached sequence per document. */
  document?: string;
}

export interface SpeculativeStats {
  /** Tokens generated (the output's length). */
  tokens: number;
  /** Target forward passes after the prompt: the verify passes and a pass per plain token. */
  targetPasses: number;
  /** Verify passes: targetPasses less the plain tokens' passes. */
  verifyPasses: number;
  /** Draft model forward passes (0 for n-gram drafts). */
  draftPasses: number;
  /** Committed tokens the draft model ran before drafting, over the request (its cache lacked them). */
  draftPrefilledTokens: number;
  /** Tokens decoded plain and pipelined (k = 0 stretches), one target pass each, and their milliseconds. */
  plainTokens: number;
  plainMs: number;
  draftedTokens: number;
  acceptedTokens: number;
  /** Mean drafted tokens kept per verify pass. */
  acceptedPerPass: number;
  /** Mean tokens committed per target pass (accepted + 1, less at a stop). */
  tokensPerPass: number;
  /** acceptedTokens / draftedTokens. */
  acceptanceRate: number;
  /** Draft lengths chosen, one per pass. */
  draftLengths: number[];
  prefillMs: number;
  draftMs: number;
  verifyMs: number;
  totalMs: number;
  /** Mean ms of one draft step over mean ms of one verify pass. */
  costRatio: number;
}

export interface SpeculativeResult extends GenerateResult {
  stats: SpeculativeStats;
}

/**
 * Generates from `prompt` into `seq` (which may hold a prefix of it) with the target verifying the draft's
 * proposals. At the end `seq` holds the prompt and every output token but the last.
 */
export async function speculativeGenerate(target: ForwardModel, seq: Sequence, prompt: number[], o: SpeculativeOptions): Promise<SpeculativeResult> {
  if (prompt.length === 0) throw new UsageError('speculative decoding of an empty prompt');
  if (seq.length >= prompt.length) throw new UsageError(`the sequence holds ${seq.length} positions; the prompt has ${prompt.length}`);
  const sampling = o.sampling ?? GREEDY;
  const greedy = isGreedy(sampling);
  const rule = greedy ? acceptGreedy : (o.acceptanceRule ?? acceptStandard);
  const rng = new Rng(sampling.seed);
  const vocab = target.config.vocabSize;
  const lengths = o.lengths ?? new DraftLengthController({ draftLength: o.draftLength, maxDraftLength: o.maxDraftLength });
  const maxK = Math.min(target.maxBatchTokens, target.maxLogitRows) - 1;
  const depth = target.pipelineDepth ?? 1;
  const plainRuns = greedy && depth > 1 && target.submitFedPass !== undefined && target.gpu !== undefined;

  const t0 = performance.now();
  await feed(target, seq, prompt.slice(seq.length, -1), o.signal, o.onPrefill);
  const t1 = performance.now();

  const context = prompt.slice();
  const out: number[] = [];
  const s = { targetPasses: 0, draftPasses: 0, draftPrefilled: 0, drafted: 0, accepted: 0, draftMs: 0, verifyMs: 0, plainTokens: 0, plainMs: 0, lengths: [] as number[] };
  let stoppedBy: GenerateResult['stoppedBy'] = 'maxTokens';
  /** Commits one token; false when generation stops at it (a stop token, the callback, max tokens). */
  const commit = (id: number, p: number): boolean => {
    if (o.stopTokens?.has(id)) { stoppedBy = 'stopToken'; return false; }
    out.push(id);
    context.push(id);
    if (o.onToken?.(id, p) === false) { stoppedBy = 'callback'; return false; }
    return out.length < o.maxTokens;
  };
  try {
    loop: while (out.length < o.maxTokens) {
      if (o.signal?.aborted) throw new CancelledError();
      const room = target.options.maxContextTokens - seq.length - 1;
      if (room < 0) break;
      const k = Math.max(0, Math.min(lengths.next(plainRuns), o.maxTokens - out.length - 1, maxK, room));
      if (k === 0 && plainRuns) {
        // Plain, pipelined, until the next probe: each pass feeds the pending token, then each argmax.
        const tPlain = performance.now();
        const passes = Math.min(lengths.tokensUntilProbe, o.maxTokens - out.length, room + 1);
        const stream = new GreedyStream(target as FedPassModel, seq, context[context.length - 1], { depth, maxPasses: passes, signal: o.signal });
        let used = 0;
        let going = true;
        try {
          while (going && used < passes) {
            const row = await stream.next();
            used++;
            going = commit(row.id, row.p);
          }
        } finally {
          stream.close();
          const ms = performance.now() - tPlain;
          s.targetPasses += used;
          s.plainTokens += used;
          s.plainMs += ms;
          for (let i = 0; i < used; i++) s.lengths.push(0);
          if (used > 0) lengths.observePlain(used, ms);
        }
        if (!going) break loop;
        continue;
      }
      const tDraft = performance.now();
      const proposal: Proposal = k > 0 ? await o.draft.propose(context, k, { sampling, rng, vocab, signal: o.signal, document: o.document }) : { tokens: [], passes: 0 };
      const draftMs = performance.now() - tDraft;
      const drafted = proposal.tokens.slice(0, k);

      const base = seq.length;
      const tVerify = performance.now();
      const r = await target.forward({ tokens: [context[context.length - 1], ...drafted], seq, logitRows: drafted.length + 1, wantLogits: !greedy, signal: o.signal });
      const verdict = rule({ draft: drafted, targetIds: r.ids, targetLogits: r.logits, draftProbs: proposal.probs, vocab, sampling, rng });
      const verifyMs = performance.now() - tVerify;
      seq.truncate(base + 1 + verdict.accepted);

      o.draft.observe?.(proposal, verdict.accepted);
      lengths.observe({ drafted: drafted.length, accepted: verdict.accepted, draftPasses: proposal.passes, draftMs, verifyPositions: drafted.length + 1, verifyMs });
      s.targetPasses++;
      s.draftPasses += proposal.passes;
      s.draftPrefilled += proposal.prefilled ?? 0;
      s.drafted += drafted.length;
      s.accepted += verdict.accepted;
      s.draftMs += draftMs;
      s.verifyMs += verifyMs;
      s.lengths.push(drafted.length);

      const committed = [...drafted.slice(0, verdict.accepted), verdict.next];
      for (const [row, id] of committed.entries()) {
        // Row `row` is the target's distribution for this token (row i verifies d_{i+1}; the last, the bonus).
        const p = greedy ? (r.probs?.[row] ?? NaN) : tokenProbability(r.logits!.subarray(row * vocab, (row + 1) * vocab), id);
        if (!commit(id, p)) break loop;
      }
    }
  } finally {
    // Keep the committed text only (a stop inside a pass leaves accepted tokens past it in the cache).
    const keep = Math.max(0, prompt.length + out.length - 1);
    if (seq.length > keep) seq.truncate(keep);
    if (!o.keepDraftState) o.draft.reset();
  }
  const t2 = performance.now();
  const draftStep = s.draftPasses > 0 ? s.draftMs / s.draftPasses : 0;
  const verifyPasses = s.targetPasses - s.plainTokens;
  const verifyPass = verifyPasses > 0 ? s.verifyMs / verifyPasses : 0;
  return {
    tokens: out,
    stoppedBy,
    promptTokens: prompt.length,
    prefillMs: t1 - t0,
    decodeMs: t2 - t1,
    decodePasses: s.targetPasses,
    discardedPasses: 0,
    stats: {
      tokens: out.length,
      targetPasses: s.targetPasses,
      verifyPasses,
      draftPasses: s.draftPasses,
      draftPrefilledTokens: s.draftPrefilled,
      plainTokens: s.plainTokens,
      plainMs: s.plainMs,
      draftedTokens: s.drafted,
      acceptedTokens: s.accepted,
      acceptedPerPass: s.targetPasses ? s.accepted / s.targetPasses : 0,
      tokensPerPass: s.targetPasses ? out.length / s.targetPasses : 0,
      acceptanceRate: s.drafted ? s.accepted / s.drafted : 0,
      draftLengths: s.lengths,
      prefillMs: t1 - t0,
      draftMs: s.draftMs,
      verifyMs: s.verifyMs,
      totalMs: t2 - t0,
      costRatio: verifyPass > 0 ? draftStep / verifyPass : 0,
    },
  };
}

/** Feeds tokens into the sequence in batches of the model's maximum, reading nothing back. */
async function feed(model: ForwardModel, seq: Sequence, tokens: number[], signal?: AbortSignal, onProgress?: PrefillProgress): Promise<void> {
  for (let at = 0; at < tokens.length; at += model.maxBatchTokens) {
    const onPass = onProgress && ((n: number) => onProgress(at + n, tokens.length));
    await model.forward({ tokens: tokens.slice(at, at + model.maxBatchTokens), seq, logitRows: 0, wantLogits: false, signal, onPass });
  }
}
