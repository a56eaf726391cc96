// How many tokens a prefill pass may take so that it runs for at most a time budget on the GPU. One pass
// is one submission: a submission of seconds keeps a cancel waiting that long, and can trip the OS's GPU
// watchdog (Windows TDR: 2 s), which loses the device. Slow adapters with large models get there at the
// default batch (a 7B model is ~1.8 TFLOP a 128-token pass); a GPU that runs a batch well within the budget
// never sees a smaller pass.
//
// The GPU time of a pass is estimated from when it is seen finished: done - max(submitted, the previous
// pass's done), over its tokens. Only passes of MIN_PASS_TOKENS or more count (a decode pass's fixed cost,
// spread over one token, would overstate the per-token time), and only passes that compiled no pipeline:
// a first pass can spend most of its time compiling (lavapipe JIT-compiles at the first dispatch, seconds
// for a model), which is not what the next pass costs, and taking it for slowness cut every later pass to
// one block. The size follows the median of the last MEASURED_PASSES passes that count: one noisy pass
// does not move it (lavapipe, at ~12.5 ms a token against a 500 ms budget, sits on the 32-token boundary,
// and sizing from the latest pass alone alternated between 16 and 32), while a lasting change moves it
// within two passes.

/** The smallest pass the pacer makes (a block of the KV cache), and the smallest it measures. */
export const MIN_PASS_TOKENS = 16;

/** Measured passes whose median sets the size. */
export const MEASURED_PASSES = 3;

export class PassPacer {
  /** ms per token of the last MEASURED_PASSES passes that count, oldest first. */
  private readonly measured: number[] = [];
  private gpuFreeAtMs = 0;
  private budgetMs = 0;

  /** `budgetMs` 0: no bound (every pass takes up to maxTokens). */
  constructor(budgetMs: number, private readonly maxTokens: number) {
    this.budget = budgetMs;
  }

  /** The GPU time a pass should take at most (ms, >= 0; 0: no bound); a change applies from the next pass. */
  set budget(ms: number) {
    if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`prefill pass budget ${ms} ms (>= 0)`);
    this.budgetMs = ms;
  }

  get budget(): number {
    return this.budgetMs;
  }

  /** Most tokens the next pass may take: a multiple of MIN_PASS_TOKENS in [MIN_PASS_TOKENS, maxTokens], or maxTokens. */
  get passTokens(): number {
    const msPerToken = this.msPerToken;
    if (this.budgetMs === 0 || msPerToken === undefined) return this.maxTokens;
    const fit = Math.floor(this.budgetMs / msPerToken / MIN_PASS_TOKENS) * MIN_PASS_TOKENS;
    return Math.min(this.maxTokens, Math.max(MIN_PASS_TOKENS, fit));
  }

  /** The median of the measured passes' ms per token (of two, the larger: the budget is a bound); undefined before any. */
  get msPerToken(): number | undefined {
    if (this.measured.length === 0) return undefined;
    const sorted = [...this.measured].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * A pass of `tokens` submitted at `submittedMs` and seen finished at `doneMs` (performance.now());
   * `compiled`: pipelines were created since the model's previous submit, or this is its first (this pass,
   * or work queued before it, may have compiled them), so its time is not counted.
   */
  record(tokens: number, submittedMs: number, doneMs: number, compiled = false): void {
    const busyMs = doneMs - Math.max(submittedMs, this.gpuFreeAtMs);
    this.gpuFreeAtMs = Math.max(this.gpuFreeAtMs, doneMs);
    if (tokens < MIN_PASS_TOKENS || !(busyMs > 0) || compiled) return;
    this.measured.push(busyMs / tokens);
    if (this.measured.length > MEASURED_PASSES) this.measured.shift();
  }
}
