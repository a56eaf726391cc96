// "Run a Benchmark of This Machine" without the editor: the real CLI's `bench decode` on stories260K in a
// child process gives decode tok/s and the weight bandwidth next to the copy bandwidth measured in the same
// run; a failing CLI's own message comes through; a cancel kills the run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError } from '../../src/common/errors';
import { BenchFigure, BenchmarkError, describeDecodeBench, runDecodeBenchmark, summarizeDecodeBench } from '../../src/host/benchmark';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { tempDir } from '../fixtures/runtime/fakes';

function fakeCli(body: string): string {
  const file = join(tempDir('fake-cli'), 'cli.js');
  writeFileSync(file, body);
  return file;
}

test('the CLI\'s decode benchmark on stories260K: tok/s and weight GB/s against the copy bandwidth of the same run', { timeout: 120_000 }, async () => {
  const model = await ensureStories260K('f32');
  const seen: string[] = [];
  const figures = await runDecodeBenchmark({
    execPath: process.execPath, cliPath: join(repoRoot(), 'dist', 'cli.js'), modelPath: model, tokens: 8, runs: 2,
    onFigure: (f) => seen.push(f.name),
  });
  assert.deepEqual(seen.slice(0, 4), ['device copy bandwidth', 'device read bandwidth', 'decode tok/s', 'decode weight bandwidth']);
  const s = summarizeDecodeBench(figures);
  assert.ok(s.decodeTokensPerS > 0 && s.copyGBPerS > 0 && s.weightGBPerS > 0, JSON.stringify(s));
  // weight GB/s = bytes per token × tok/s: stories260K's f32 weights are ~1 MB a token.
  const bytesPerToken = figures.find((f) => f.name === 'decode weight bandwidth')!.weightBytesPerToken as number;
  assert.ok(Math.abs(s.weightGBPerS - (bytesPerToken * s.decodeTokensPerS) / 1e9) <= 0.01 * s.weightGBPerS + 1e-3);
  assert.ok(Math.abs(s.fractionOfCopy - s.weightGBPerS / s.copyGBPerS) < 0.01, JSON.stringify(s));
  console.log(JSON.stringify({ name: 'benchmark command: decode tok/s (stories260K f32)', value: s.decodeTokensPerS, unit: 'tok/s', adapter: s.adapter }));
  console.log(JSON.stringify({ name: 'benchmark command: decode weight bandwidth', value: s.weightGBPerS, unit: 'GB/s', vs: 'device copy bandwidth', ratio: s.fractionOfCopy, baseline: s.copyGBPerS }));
});

test('figures are read line by line, other output goes to the log, and the summary reads as a sentence', async () => {
  const figs: BenchFigure[] = [
    { name: 'device copy bandwidth', value: 20, unit: 'GB/s', adapter: 'Fake GPU' },
    { name: 'decode tok/s', value: 50, unit: 'tok/s' },
    { name: 'decode weight bandwidth', value: 5, unit: 'GB/s', vs: 'device copy bandwidth', ratio: 0.25 },
  ];
  // Split writes: a figure's line arrives in two chunks.
  const cli = fakeCli(`
    const lines = ${JSON.stringify(figs.map((f) => JSON.stringify(f)))};
    process.stdout.write('not json\\n' + lines[0].slice(0, 10));
    setTimeout(() => { process.stdout.write(lines[0].slice(10) + '\\n' + lines[1] + '\\n' + lines[2] + '\\n'); console.error('Warning: dawn'); }, 20);
  `);
  const logged: string[] = [];
  const got = await runDecodeBenchmark({ execPath: process.execPath, cliPath: cli, modelPath: '/m.gguf', onLog: (l) => logged.push(l) });
  assert.deepEqual(got.map((f) => f.name), figs.map((f) => f.name));
  assert.deepEqual(logged.sort(), ['Warning: dawn', 'not json']);
  assert.equal(describeDecodeBench(summarizeDecodeBench(got)), '50.0 tok/s decoding: 5.00 GB/s of weights, 25% of the 20.00 GB/s this device copies (Fake GPU)');
  assert.throws(() => summarizeDecodeBench(got.slice(1)), /printed no "device copy bandwidth"/);
});

test('the arguments name the model and sizes; a failing CLI\'s own message comes through', async () => {
  const cli = fakeCli(`
    process.stderr.write('tandem: ' + JSON.stringify(process.argv.slice(2)) + '\\n  Use a GGUF.\\n');
    process.exit(4);
  `);
  const err = await runDecodeBenchmark({ execPath: process.execPath, cliPath: cli, modelPath: '/m.gguf', contextTokens: 64, tokens: 4, runs: 1 }).catch((e) => e);
  assert.ok(err instanceof BenchmarkError, String(err));
  assert.equal(err.message, 'benchmark failed: ["bench","decode","--model","/m.gguf","--context","64","--tokens","4","--runs","1"]');
  assert.match(err.hint, /Show Logs/);

  const missing = await runDecodeBenchmark({ execPath: join(tempDir('none'), 'node'), cliPath: cli, modelPath: '/m.gguf' }).catch((e) => e);
  assert.ok(missing instanceof BenchmarkError);
  assert.match(missing.message, /cannot run .*node: .*ENOENT/);
});

test('cancel kills the run and rejects with CancelledError', async () => {
  const cli = fakeCli(`process.stdout.write(JSON.stringify({ name: 'device copy bandwidth', value: 1, unit: 'GB/s' }) + '\\n'); setInterval(() => {}, 1000);`);
  const ac = new AbortController();
  const run = runDecodeBenchmark({ execPath: process.execPath, cliPath: cli, modelPath: '/m.gguf', signal: ac.signal, onFigure: () => ac.abort() });
  await assert.rejects(run, (e) => e instanceof CancelledError);
});
