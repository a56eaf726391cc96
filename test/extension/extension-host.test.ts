// Drives the mocha suite of test/extension-host inside code-server's real extension host: Tandem loaded
// as a development extension, dist-test/extension-host as the extensionTestsPath (the workbench's URL
// payload), a headless chromium connected (code-server starts the extension host only for a window).
// The suite writes its outcome to a file; this test waits for it and reports every mocha test.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { extEnv, openBrowser, readText, startCodeServer, until } from './codeServer';

interface Outcome { passed: number; failed: number; tests: { title: string; state: string; durationMs?: number; error?: string }[] }

test('the extension-host mocha suite passes inside code-server (activation, commands, inline completion, settings (a request option, the engine prefill limits), prefill progress, a request made while loading)', { timeout: 300_000 }, async () => {
  const env = extEnv();
  const root = repoRoot();
  const suite = join(root, 'dist-test', 'extension-host');
  assert.ok(existsSync(join(suite, 'index.js')), 'build the suite first: node scripts/build.mjs --tests');
  const model = await ensureStories260K('f32');
  const results = join(env.root, `ext-host-results-${process.pid}.json`);
  rmSync(results, { force: true });
  const run = await startCodeServer(env, root, { 'tandem.model': model, 'tandem.debounceMs': 50, 'tandem.maxTokens': 24, 'tandem.languages': { '*': true } },
    { 'story.js': '// A short story.\n' }, { extensionTestsPath: suite, extensionEnvironment: { TANDEM_EXT_HOST_RESULTS: results, TANDEM_PREFILL_REPORT_MS: '0,0' } });
  let ok = false;
  const browser = await openBrowser<{ goto(url: string): Promise<unknown> }>(env, run);
  try {
    const { page } = browser;
    await page.goto(run.url);
    const outcome = await until('the extension-host suite to write its results', 240_000, () => existsSync(results) && (JSON.parse(readFileSync(results, 'utf8')) as Outcome));
    for (const t of outcome.tests) console.log(`${t.state === 'passed' ? 'ok' : 'FAILED'} - ${t.title} (${t.durationMs} ms)${t.error ? `\n${t.error}` : ''}`);
    assert.equal(outcome.failed, 0, `extension-host tests failed; Tandem's log:\n${readText(run.tandemLog())}`);
    assert.equal(outcome.passed, 7);
    ok = true;
  } finally {
    await browser.close();
    run.stop(!ok);
    rmSync(results, { force: true });
    if (!ok) console.log(`kept the run folder for inspection: ${run.dir}`);
  }
});
