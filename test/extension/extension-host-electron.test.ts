// The same mocha suite as extension-host.test.ts (test/extension-host), inside DESKTOP VS Code through
// @vscode/test-electron, where VS Code can be downloaded (update.code.visualstudio.com) and shown (a
// display, or xvfb-run on Linux). Here (no internet but the npm registry) it skips and says why: the
// code-server tests are the real-editor tests on this machine. The engine never runs on Electron: Tandem
// picks a plain Node.js for it (src/host/runtime), which this test checks in the extension's log.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureStories260K, repoRoot } from '../helpers/testModels';

interface Outcome { passed: number; failed: number; tests: { title: string; state: string; error?: string }[] }

/** VS Code stable for this platform, downloaded once into .cache/vscode-test; a reason string when it cannot be. */
async function desktopVSCode(cachePath: string): Promise<string | { skip: string }> {
  const { downloadAndUnzipVSCode } = await import('@vscode/test-electron');
  try {
    return await downloadAndUnzipVSCode({ version: 'stable', cachePath, timeout: 20_000 });
  } catch (e) {
    return { skip: `desktop VS Code could not be downloaded here (${(e as Error).message.split('\n')[0]}); the code-server tests cover the real editor` };
  }
}

function findFile(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (n === name) return p;
  }
  return undefined;
}

test('the extension-host mocha suite passes inside desktop VS Code (@vscode/test-electron), where VS Code can be downloaded', { timeout: 600_000 }, async (t) => {
  const root = repoRoot();
  const suite = join(root, 'dist-test', 'extension-host');
  assert.ok(existsSync(join(suite, 'index.js')), 'build the suite first: node scripts/build.mjs --tests');
  const vscodePath = await desktopVSCode(join(root, '.cache', 'vscode-test'));
  if (typeof vscodePath !== 'string') return t.skip(vscodePath.skip);
  const needsXvfb = process.platform === 'linux' && !process.env.DISPLAY;
  if (needsXvfb && spawnSync('xvfb-run', ['--help']).error) return t.skip('no display and no xvfb-run (apt install xvfb) for desktop VS Code');

  const model = await ensureStories260K('f32');
  mkdirSync(join(root, '.cache', 'vscode-test'), { recursive: true });
  const dir = mkdtempSync(join(root, '.cache', 'vscode-test', 'run-'));
  const userData = join(dir, 'user-data');
  const workspace = join(dir, 'workspace');
  mkdirSync(join(userData, 'User'), { recursive: true });
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, 'story.js'), '// A short story.\n');
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({
    'tandem.model': model, 'tandem.debounceMs': 50, 'tandem.maxTokens': 24, 'tandem.languages': { '*': true },
    'telemetry.telemetryLevel': 'off', 'update.mode': 'none', 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false,
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  }, null, 2));
  const results = join(dir, 'results.json');
  let ok = false;
  try {
    const { runTests } = await import('@vscode/test-electron');
    const args = { vscodeExecutablePath: vscodePath, extensionDevelopmentPath: root, extensionTestsPath: suite, extensionTestsEnv: { TANDEM_EXT_HOST_RESULTS: results },
      launchArgs: [workspace, '--user-data-dir', userData, '--extensions-dir', join(dir, 'extensions'), '--disable-workspace-trust', '--skip-welcome', '--no-sandbox', '--disable-gpu'] };
    if (needsXvfb) {
      // test-electron spawns VS Code itself; under xvfb-run it needs a display server around this process.
      const r = spawnSync('xvfb-run', ['-a', process.execPath, '-e', `require('@vscode/test-electron').runTests(${JSON.stringify(args)}).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`],
        { cwd: root, encoding: 'utf8', timeout: 540_000 });
      if (r.status !== 0 && !existsSync(results)) assert.fail(`desktop VS Code did not run the suite (exit ${r.status}):\n${(r.stdout + r.stderr).slice(-3000)}`);
    } else {
      await runTests(args).catch((e: Error) => { if (!existsSync(results)) throw e; });
    }
    const outcome = JSON.parse(readFileSync(results, 'utf8')) as Outcome;
    for (const x of outcome.tests) console.log(`${x.state === 'passed' ? 'ok' : 'FAILED'} - ${x.title}${x.error ? `\n${x.error}` : ''}`);
    assert.equal(outcome.failed, 0);
    assert.equal(outcome.passed, 5);
    // The engine ran on a plain Node.js chosen by the runtime selector, never on VS Code's Electron.
    const log = findFile(join(userData, 'logs'), 'Tandem.log');
    assert.match(log ? readFileSync(log, 'utf8') : '', /starting the engine on Node\.js v\d+/);
    ok = true;
  } finally {
    if (ok) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept the run folder for inspection: ${dir}`);
  }
});
