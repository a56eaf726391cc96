// "Tandem: Run a Benchmark of This Machine": src/host/benchmark.ts's decode benchmark on the loaded model,
// on the engine's Node.js runtime, in a cancellable progress notification; every figure goes to the log as
// the CLI's JSON line, and the sum-up (tok/s, weight GB/s vs the copy bandwidth measured in the same run)
// to a notification.

import * as vscode from 'vscode';
import { CancelledError } from '../common/errors';
import { BenchmarkError, describeDecodeBench, runDecodeBenchmark, summarizeDecodeBench } from '../host/benchmark';
import type { TandemController } from './controller';

const TOKENS = 16;
const RUNS = 3;

export async function runBenchmark(c: TandemController): Promise<void> {
  const model = c.engine.modelInfo;
  const runtime = c.engine.runtime;
  if (!model || !runtime) {
    void vscode.window.showWarningMessage('Tandem: load a model first ("Tandem: Select Model"): the benchmark decodes with the loaded model, on the engine\'s Node.js.');
    return;
  }
  c.log.info(`benchmark: bench decode --model ${model.path} on ${runtime.execPath}`);
  try {
    const figures = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Tandem: benchmarking ${model.name}`,
      cancellable: true,
    }, (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      progress.report({ message: 'measuring the device\'s copy bandwidth…' });
      return runDecodeBenchmark({
        execPath: runtime.execPath,
        cliPath: c.context.asAbsolutePath('dist/cli.js'),
        modelPath: model.path,
        tokens: TOKENS,
        runs: RUNS,
        signal: ac.signal,
        onFigure: (f) => {
          c.log.info(`benchmark: ${JSON.stringify(f)}`);
          if (f.name === 'device read bandwidth') progress.report({ message: `loading the model, then decoding ${TOKENS} tokens × ${RUNS} runs…` });
        },
        onLog: (line) => c.log.debug(`benchmark: ${line}`),
      });
    });
    const text = describeDecodeBench(summarizeDecodeBench(figures));
    c.log.info(`benchmark: ${text}`);
    c.log.info('benchmark: completions requested meanwhile share the GPU and lower the figures');
    const slow = model.isSoftwareAdapter ? ' A software adapter: expect a GPU to be far faster.' : '';
    const pick = await vscode.window.showInformationMessage(`Tandem (${model.name}): ${text}.${slow}`, 'Show Logs');
    if (pick) c.log.show();
  } catch (e) {
    if (e instanceof CancelledError) return;
    const err = e as Error;
    const hint = e instanceof BenchmarkError ? e.hint : undefined;
    c.log.error(`${err.message}${hint ? `\n${hint}` : ''}`);
    const pick = await vscode.window.showErrorMessage(`Tandem: ${err.message}${hint ? ` ${hint}` : ''}`, 'Show Logs');
    if (pick) c.log.show();
  }
}
