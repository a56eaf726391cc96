// "Tandem: Run a Benchmark of This Machine": the CLI's `bench decode` on the loaded model, in a child
// process on the engine's Node.js runtime (the one that passed the WebGPU self-test), so the editor's own
// process never touches the GPU. The CLI prints one JSON line per figure:
//   {"name":"device copy bandwidth","value":13.5,"unit":"GB/s","adapter":"..."}          (the baseline)
//   {"name":"decode tok/s","value":12.3,"unit":"tok/s",...}
//   {"name":"decode weight bandwidth","value":6.1,"unit":"GB/s","vs":"device copy bandwidth","ratio":0.45,...}
// This file runs it, hands each figure on as it comes (progress), and sums the run up. Editor-independent.

import { spawn } from 'node:child_process';
import { CancelledError } from '../common/errors';
import { runtimeSpawnEnv } from './runtime';
import type { Figure } from '../cli/figure';

/** One JSON line of the CLI's bench output, as cli/figure.ts writes it. */
export type BenchFigure = Figure;

export interface DecodeBenchOptions {
  /** The Node.js binary (the engine's runtime: SelectedNodeRuntime.execPath). */
  execPath: string;
  /** dist/cli.js of this extension. */
  cliPath: string;
  modelPath: string;
  /** Prompt tokens before decoding (default 128), decoded tokens per run (16), runs (3; the median is kept). */
  contextTokens?: number;
  tokens?: number;
  runs?: number;
  signal?: AbortSignal;
  onFigure?: (f: BenchFigure) => void;
  /** stderr lines (Dawn warnings) for the log. */
  onLog?: (line: string) => void;
}

/** The run failed (not a cancel); `hint` says what to do. Shown by the command, never seen by the CLI. */
export class BenchmarkError extends Error {
  readonly hint: string;
  constructor(detail: string, hint?: string) {
    super(`benchmark failed: ${detail}`);
    this.name = 'BenchmarkError';
    this.hint = hint ?? 'See "Tandem: Show Logs" for the benchmark\'s output.';
  }
}

/** Runs `cli.js bench decode` and resolves with every figure it printed. */
export function runDecodeBenchmark(o: DecodeBenchOptions): Promise<BenchFigure[]> {
  if (o.signal?.aborted) return Promise.reject(new CancelledError());
  const args = [o.cliPath, 'bench', 'decode', '--model', o.modelPath,
    '--context', String(o.contextTokens ?? 128), '--tokens', String(o.tokens ?? 16), '--runs', String(o.runs ?? 3)];
  return new Promise((resolve, reject) => {
    const child = spawn(o.execPath, args, { env: runtimeSpawnEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const figures: BenchFigure[] = [];
    let stdoutRest = '';
    let stderrTail = '';
    const onAbort = () => child.kill();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const lines = (stdoutRest + s).split('\n');
      stdoutRest = lines.pop()!;
      for (const line of lines) {
        const f = parseFigure(line);
        if (f) {
          figures.push(f);
          o.onFigure?.(f);
        } else if (line.trim()) {
          o.onLog?.(line);
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderrTail = (stderrTail + s).slice(-2000);
      for (const line of s.split('\n')) if (line.trim()) o.onLog?.(line);
    });
    child.on('error', (e) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(new BenchmarkError(`cannot run ${o.execPath}: ${e.message}`, 'Check tandem.nodePath; "Tandem: Restart Engine" selects the runtime again.'));
    });
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (o.signal?.aborted) return reject(new CancelledError());
      if (code === 0) return resolve(figures);
      // The CLI prints "tandem: <message>" and an indented hint on failure.
      const said = stderrTail.split('\n').filter((l) => l.startsWith('tandem: ')).pop()?.slice('tandem: '.length);
      reject(new BenchmarkError(said ?? `the benchmark exited with ${code ?? signal}: ${stderrTail.trim().slice(-300)}`));
    });
  });
}

function parseFigure(line: string): BenchFigure | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const f = JSON.parse(line) as BenchFigure;
    return typeof f.name === 'string' && typeof f.value === 'number' && typeof f.unit === 'string' ? f : undefined;
  } catch {
    return undefined;
  }
}

export interface DecodeBenchSummary {
  adapter: string | undefined;
  decodeTokensPerS: number;
  /** Weight bytes streamed per second while decoding, GB/s (1e9). */
  weightGBPerS: number;
  /** The device's copy bandwidth measured in the same run, GB/s. */
  copyGBPerS: number;
  /** weightGBPerS / copyGBPerS: how close decoding gets to the memory roofline. */
  fractionOfCopy: number;
}

/** The figures a person wants from a run; throws when the run did not print them. */
export function summarizeDecodeBench(figures: BenchFigure[]): DecodeBenchSummary {
  const get = (name: string) => {
    const f = figures.find((x) => x.name === name);
    if (!f) throw new BenchmarkError(`the benchmark printed no "${name}"`);
    return f;
  };
  const copy = get('device copy bandwidth');
  const tok = get('decode tok/s');
  const weights = get('decode weight bandwidth');
  return {
    adapter: typeof copy.adapter === 'string' ? copy.adapter : undefined,
    decodeTokensPerS: tok.value,
    weightGBPerS: weights.value,
    copyGBPerS: copy.value,
    fractionOfCopy: weights.ratio ?? weights.value / copy.value,
  };
}

/** "12.3 tok/s decoding: 6.10 GB/s of weights, 45% of the 13.50 GB/s this device copies (adapter)". */
export function describeDecodeBench(s: DecodeBenchSummary): string {
  return `${s.decodeTokensPerS.toFixed(1)} tok/s decoding: ${s.weightGBPerS.toFixed(2)} GB/s of weights, ` +
    `${(100 * s.fractionOfCopy).toFixed(0)}% of the ${s.copyGBPerS.toFixed(2)} GB/s this device copies${s.adapter ? ` (${s.adapter})` : ''}`;
}
