// What the decode speed measured at load means for the user: a line for the status bar's tooltip, and the
// one-time warning when a full suggestion would take longer than the user will wait; and a long prompt's
// prefill in progress, for the status bar.

export interface MeasuredModel {
  name: string;
  adapter: string;
  isSoftwareAdapter: boolean;
  /** Tokens per second measured at load; absent when it could not be measured. */
  decodeTokensPerS?: number;
}

/** Longer than this for a full suggestion, and the user is told once how slow the model is here. */
export const SLOW_SUGGESTION_S = 3;

function rate(tps: number): string {
  return tps >= 10 ? String(Math.round(tps)) : tps.toFixed(1);
}

/** The tooltip's note: the measured speed and a suggestion's time; a software adapter is named as such. */
export function speedNote(m: MeasuredModel, suggestionTokens = 64): string {
  const tps = m.decodeTokensPerS;
  const measured = tps ? `about ${rate(tps)} tokens/s here, so a ${suggestionTokens}-token suggestion takes about ${(suggestionTokens / tps).toFixed(1)} s` : '';
  if (m.isSoftwareAdapter) return `\n\nThis is a software (CPU-emulated) GPU adapter: completions will be slow${measured ? ` (${measured})` : ''}. A GPU driver with Vulkan, Metal or D3D12 makes them far faster.`;
  return measured ? `\n\nDecoding: ${measured}.` : '';
}

/** The warning to show once, when a `maxTokens` suggestion takes over SLOW_SUGGESTION_S; else undefined. */
export function slowModelWarning(m: MeasuredModel, maxTokens: number): string | undefined {
  const tps = m.decodeTokensPerS;
  if (!tps || maxTokens / tps <= SLOW_SUGGESTION_S) return undefined;
  const where = m.isSoftwareAdapter ? `a software (CPU-emulated) GPU adapter, ${m.adapter}` : m.adapter;
  return `Tandem: ${m.name} decodes about ${rate(tps)} tokens/s on ${where}: a ${maxTokens}-token suggestion takes about ${Math.round(maxTokens / tps)} s.`;
}

/**
 * The status bar while a long prompt is read (a first request on a large file, on a slow adapter): the
 * percentage for the item's text, and a tooltip saying what it waits for and that the work is kept.
 */
export function prefillStatus(p: { done: number; total: number }): { percent: string; tip: string } {
  const pct = Math.min(99, Math.floor((100 * p.done) / Math.max(1, p.total)));
  return {
    percent: `${pct}%`,
    tip: `Tandem: reading the prompt, ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} tokens. Typing on does not lose this: the next suggestion starts where it stopped.`,
  };
}
