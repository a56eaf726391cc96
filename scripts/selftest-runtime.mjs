// Runs the engine-runtime selection (src/host/runtime) on this machine, as the extension would, and prints
// what it chose and why each other candidate was refused. For debugging a user's setup and for manual checks.
//   node scripts/selftest-runtime.mjs [--node-path P] [--storage DIR] [--allow-download]
//        [--base-url URL] [--version X.Y.Z] [--timeout-ms N] [--json]
// The module is bundled on the fly with esbuild (a devDependency) into a temp file, so no build step is needed.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tmp = mkdtempSync(join(tmpdir(), 'tandem-selftest-runtime-'));
try {
  const outfile = join(tmp, 'runtime.cjs');
  await build({
    entryPoints: [join(root, 'src/host/runtime/index.ts')], bundle: true, platform: 'node', target: 'node20',
    format: 'cjs', outfile, logLevel: 'warning',
  });
  const runtime = createRequire(import.meta.url)(outfile);
  const storageDir = resolve(opt('--storage') ?? join(root, '.cache', 'node-runtime'));
  const started = Date.now();
  let lastPercent = -1;
  try {
    const chosen = await runtime.selectNodeRuntime({
      explicitPath: opt('--node-path'),
      storageDir,
      webgpuPackageDir: join(root, 'node_modules', 'webgpu'),
      allowDownload: args.includes('--allow-download'),
      download: { baseUrl: opt('--base-url'), version: opt('--version') },
      selfTestTimeoutMs: Number(opt('--timeout-ms') ?? 20_000),
      log: args.includes('--json') ? undefined : (line) => console.error(line),
      onProgress: (p) => {
        const percent = p.bytesTotal ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : -1;
        if (p.phase !== 'download' || percent !== lastPercent) console.error(`  ${p.phase} ${p.bytesDone}/${p.bytesTotal ?? '?'}`);
        lastPercent = percent;
      },
    });
    const { rejected, ...rest } = chosen;
    const summary = { ...rest, rejected: rejected.map(({ cause: _cause, ...r }) => r), ms: Date.now() - started };
    console.log(JSON.stringify(summary, null, args.includes('--json') ? 0 : 2));
  } catch (e) {
    console.error(e.message);
    if (e.hint) console.error(`hint: ${e.hint}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
