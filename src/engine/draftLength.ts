// How many tokens to draft next. With a per-token acceptance rate α (drafted tokens kept independently),
// k drafted tokens yield on average (1 − α^(k+1)) / (1 − α) tokens per verify pass (Leviathan et al. 2023),
// and cost k draft steps plus one target pass over k+1 positions. The controller measures all three and
// picks the k in [0, max] with the most tokens per millisecond:
//   α        decayed counts: accepted tokens / (accepted tokens + rejections), a rejection being a pass
//            that kept fewer tokens than were drafted (the geometric-distribution estimate)
//   draft    decayed mean milliseconds of one draft step
//   verify   decayed least-squares line ms = a + b·(positions) over the verify passes seen
// k = 0 is plain decoding: a one-position verify pass, or, where the speculative loop can run them, plain
// pipelined passes (GreedyStream), whose measured cost per token (observePlain) then prices k = 0. Since
// k = 0 measures nothing about α, after PROBE_EVERY plain tokens one token is drafted, so a source that
// starts to agree again (a repetitive stretch of code) is noticed. A probe costs a draft step and a verify
// pass, more than a plain token, so while probes keep finding that drafting does not pay, the interval
// doubles, up to MAX_PROBE_EVERY; it starts over once drafting pays.

/** Plain tokens before the first probe of the draft. */
export const PROBE_EVERY = 8;
/** The longest interval between probes. */
export const MAX_PROBE_EVERY = 64;

export interface DraftLengthOptions {
  /** A fixed draft length, or 'auto'. */
  draftLength: number | 'auto';
  maxDraftLength?: number;
  /** Weight of the past per pass (closer to 1: slower to adapt). */
  decay?: number;
  /** Draft length while nothing is measured yet. */
  initial?: number;
}

export interface PassObservation {
  drafted: number;
  accepted: number;
  /** Draft forward passes and their total milliseconds (0 for n-gram drafts). */
  draftPasses: number;
  draftMs: number;
  /** Positions in the verify pass (drafted + 1) and its milliseconds. */
  verifyPositions: number;
  verifyMs: number;
}

export class DraftLengthController {
  readonly max: number;
  private readonly decay: number;
  private accepted = 0;
  private rejections = 0;
  private draftMs = 0;
  private draftSteps = 0;
  // Decayed sums for the verify-cost line: n, Σx, Σy, Σx², Σxy.
  private vn = 0;
  private vx = 0;
  private vy = 0;
  private vxx = 0;
  private vxy = 0;
  /** Plain tokens since the last probe, and the tokens between probes now. */
  private idleTokens = 0;
  private probeEvery = PROBE_EVERY;
  // Decayed totals of plain pipelined runs: milliseconds and tokens.
  private plainMs = 0;
  private plainTokens = 0;

  constructor(private readonly o: DraftLengthOptions) {
    this.max = Math.max(0, Math.floor(o.maxDraftLength ?? (o.draftLength === 'auto' ? 16 : o.draftLength)));
    this.decay = o.decay ?? 0.9;
  }

  /** Estimated probability that a drafted token is kept. */
  get acceptance(): number {
    return (this.accepted + 1) / (this.accepted + this.rejections + 2);
  }

  /** Milliseconds of one draft step, of a verify pass over `positions`. */
  draftStepMs(): number {
    return this.draftSteps > 0 ? this.draftMs / this.draftSteps : 0;
  }

  verifyMs(positions: number): number {
    if (this.vn === 0) return 1;
    const mx = this.vx / this.vn;
    const my = this.vy / this.vn;
    const varx = this.vxx / this.vn - mx * mx;
    // One verify size seen so far: cost independent of size (the memory-bound regime of a real GPU).
    const slope = varx > 1e-9 ? Math.max(0, (this.vxy / this.vn - mx * my) / varx) : 0;
    return Math.max(1e-3, my + slope * (positions - mx));
  }

  /** Milliseconds per token of plain pipelined decoding, when measured. */
  plainTokenMs(): number | undefined {
    return this.plainTokens > 0 ? this.plainMs / this.plainTokens : undefined;
  }

  /** Plain tokens a run at k = 0 may take before the next probe (at least 1). */
  get tokensUntilProbe(): number {
    return Math.max(1, this.probeEvery - this.idleTokens);
  }

  /** Expected tokens per millisecond when drafting k. */
  rate(k: number): number {
    const plain = this.plainTokenMs();
    if (k === 0 && plain !== undefined) return 1 / Math.max(1e-3, plain);
    const a = Math.min(this.acceptance, 0.999);
    const tokens = (1 - a ** (k + 1)) / (1 - a);
    return tokens / (k * this.draftStepMs() + this.verifyMs(k + 1));
  }

  /**
   * `plainRuns`: the caller decodes k = 0 as plain pipelined runs; until one is measured, k = 0 is tried
   * once (when the first passes are measured), since its cost is then not the one-position verify's.
   */
  next(plainRuns = false): number {
    if (this.o.draftLength !== 'auto') return this.max;
    if (this.vn < 2) return Math.min(this.max, this.o.initial ?? 4);
    if (plainRuns && this.plainTokens === 0) return 0;
    let best = 0;
    for (let k = 1; k <= this.max; k++) if (this.rate(k) > this.rate(best) * 1.0001) best = k;
    if (best > 0) {
      this.probeEvery = PROBE_EVERY;
    } else if (this.idleTokens >= this.probeEvery) {
      this.idleTokens = 0;
      this.probeEvery = Math.min(MAX_PROBE_EVERY, 2 * this.probeEvery);
      return Math.min(1, this.max);
    }
    return best;
  }

  /** A run of plain pipelined passes: `tokens` committed in `ms`. */
  observePlain(tokens: number, ms: number): void {
    this.plainMs = this.decay * this.plainMs + ms;
    this.plainTokens = this.decay * this.plainTokens + tokens;
    this.idleTokens += tokens;
  }

  observe(p: PassObservation): void {
    const d = this.decay;
    if (p.drafted > 0) {
      this.accepted = d * this.accepted + p.accepted;
      this.rejections = d * this.rejections + (p.accepted < p.drafted ? 1 : 0);
    } else {
      this.idleTokens++;
    }
    if (p.draftPasses > 0) {
      this.draftMs = d * this.draftMs + p.draftMs;
      this.draftSteps = d * this.draftSteps + p.draftPasses;
    }
    const x = p.verifyPositions;
    const y = p.verifyMs;
    this.vn = d * this.vn + 1;
    this.vx = d * this.vx + x;
    this.vy = d * this.vy + y;
    this.vxx = d * this.vxx + x * x;
    this.vxy = d * this.vxy + x * y;
  }
}
