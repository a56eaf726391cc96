// Summary statistics shared by the benchmarks.

/** The value at fraction `p` of `xs` sorted (index floor(p * n), clamped to the last); NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** The middle value of `xs` (the upper middle for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}
