// One JSON line per benchmark figure (`tandem bench decode|prefill|bandwidth|matvec|verify|dispatch`): its
// name, value and unit, and, for a timing, what it is measured against in the same run and the ratio.
// The extension reads the same lines back (host/benchmark.ts, "Run a Benchmark of This Machine").

export interface Figure {
  name: string;
  value: number;
  unit: string;
  vs?: string;
  ratio?: number;
  [k: string]: unknown;
}

/** Prints the figure with its value and ratio rounded (3 decimals; 1 from 100 up). */
export function emit(f: Figure): void {
  const r = (x: number) => (Math.abs(x) >= 100 ? Math.round(x * 10) / 10 : Math.round(x * 1000) / 1000);
  process.stdout.write(JSON.stringify({ ...f, value: r(f.value), ...(f.ratio !== undefined ? { ratio: r(f.ratio) } : {}) }) + '\n');
}
