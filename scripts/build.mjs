// Builds the extension bundle and the CLI (dist/), and with --tests every test/**/*.test.ts into
// dist-test/ with the same loaders (WGSL kernels are imported as text), so tests run what ships.
import { build } from 'esbuild';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const withTests = process.argv.includes('--tests');
// --filter SUBSTRING builds only the matching test files (quick loops while editing one area).
const filterAt = process.argv.indexOf('--filter');
const testFilter = filterAt > 0 ? process.argv[filterAt + 1] : '';
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  loader: { '.wgsl': 'text' },
  // Native or large runtime packages stay outside the bundle.
  external: ['vscode', 'webgpu', 'node-llama-cpp', '@huggingface/tokenizers', '@lenml/*'],
  logLevel: 'warning',
};

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

await build({
  ...common,
  // engine: the engine process the extension forks (src/host/engine/main.ts), on a real Node.js runtime.
  entryPoints: { extension: 'src/extension.ts', cli: 'src/cli/main.ts', engine: 'src/host/engine/main.ts' },
  outdir: 'dist',
  banner: { js: '' },
});

// The repack worker thread (src/loaders/repackWorker.ts), beside every set of bundles that loads models:
// RepackPool looks for it next to its own bundle or one folder up (dist-test/<suite>/).
const repackWorker = (outdir) => build({ ...common, entryPoints: { repackWorker: 'src/loaders/repackWorker.ts' }, outdir });
await repackWorker('dist');

// Benchmark drivers (bench/*.ts) → dist-bench/, built with the tests so a broken driver fails the build.
function findBench() {
  return readdirSync('bench').filter((n) => n.endsWith('.ts')).map((n) => join('bench', n));
}

if (withTests) {
  await build({ ...common, entryPoints: findBench(), outdir: 'dist-bench' });
  await repackWorker('dist-bench');
  if (!testFilter) rmSync('dist-test', { recursive: true, force: true });
  await repackWorker('dist-test');
  const tests = findTests('test').filter((t) => t.includes(testFilter));
  const entryPoints = Object.fromEntries(tests.map((t) => [relative('test', t).replace(/\.ts$/, ''), t]));
  await build({ ...common, entryPoints, outdir: 'dist-test' });
  // The suite that runs inside the extension host (test/extension-host: index.ts's run() + *.spec.ts, mocha
  // left external and loaded from node_modules) → dist-test/extension-host/, for test/extension/extension-host.test.ts.
  if ('test/extension-host/'.includes(testFilter) || tests.some((t) => t.includes('extension-host'))) {
    const hostEntries = readdirSync('test/extension-host').filter((n) => n === 'index.ts' || n.endsWith('.spec.ts'));
    await build({ ...common, external: [...common.external, 'mocha'], entryPoints: hostEntries.map((n) => join('test/extension-host', n)), outdir: 'dist-test/extension-host' });
  }
}
