// The bounds on prefill passes, a user's setting (tandem.prefill.*) as much as a runtime option: how many
// passes may be queued on the GPU at once, and how long one pass should run. Kept apart from llama.ts so
// the extension host reads the defaults without loading the GPU code.

import { UsageError } from '../common/errors';

/**
 * Default ModelRuntimeOptions.prefillPassesInFlight. A pass that reads nothing back (a prefill batch but
 * the last) returns once submitted, so without a bound a whole prompt's batches reach the GPU queue at
 * once, and a cancel waits for all of them (measured on lavapipe, 500 tokens through one layer at 0.5B
 * widths: a cancel 100 ms in still ran the whole 4.4 s prefill). 2 keeps one batch queued behind the
 * running one, so the GPU does not idle between batches, and a cancel waits for at most two.
 */
export const DEFAULT_PREFILL_PASSES_IN_FLIGHT = 2;

/**
 * Default ModelRuntimeOptions.prefillPassBudgetMs: a quarter of Windows' GPU watchdog (2 s), and a cancel
 * waits for at most about twice this (the passes in flight).
 */
export const DEFAULT_PREFILL_PASS_BUDGET_MS = 500;

/** How prefill passes are bounded (see ModelRuntimeOptions.prefillPassesInFlight and prefillPassBudgetMs). */
export interface PrefillLimits {
  /** Passes without a readback queued on the GPU at once: an integer >= 1. */
  passesInFlight?: number;
  /** GPU time a prefill pass should take at most, ms >= 0; 0: no bound. */
  passBudgetMs?: number;
}

/** `limits` if every field given is valid, else a UsageError naming the field. */
export function checkPrefillLimits(limits: PrefillLimits): PrefillLimits {
  const { passesInFlight: n, passBudgetMs: ms } = limits;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new UsageError(`prefill passes in flight ${n} (an integer >= 1)`);
  if (ms !== undefined && !(Number.isFinite(ms) && ms >= 0)) throw new UsageError(`prefill pass budget ${ms} ms (>= 0; 0: no bound)`);
  return limits;
}
