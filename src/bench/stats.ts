// Summary statistics shared by the benchmarks.

/** The middle value of `xs` (the upper middle for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  return xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN;
}
