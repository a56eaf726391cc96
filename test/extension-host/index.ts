// Entry of the tests that run INSIDE the real extension host (VS Code's extension test API: the host
// loads this module from `extensionTestsPath` and calls run()). test/extension/extension-host.test.ts
// starts code-server with Tandem as a development extension and this folder as the tests path.
// Mocha runs every *.spec.js next to this file; the outcome goes to the JSON file named by
// $TANDEM_EXT_HOST_RESULTS ({ passed, failed, tests: [{ title, state, error? }] }), which the driver
// reads: a browser-hosted workbench gives no other channel back for the extension host's output.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

interface TestResult { title: string; state: 'passed' | 'failed'; durationMs?: number; error?: string }

export function run(): Promise<void> {
  const resultsPath = process.env.TANDEM_EXT_HOST_RESULTS;
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  for (const f of readdirSync(__dirname).filter((n) => n.endsWith('.spec.js')).sort()) mocha.addFile(join(__dirname, f));
  const tests: TestResult[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const outcome = { passed: tests.filter((t) => t.state === 'passed').length, failed: failures, tests };
      if (resultsPath) writeFileSync(resultsPath, JSON.stringify(outcome, null, 2));
      if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
      else resolve();
    });
    runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('fail', (t, err: Error) => tests.push({ title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: `${err.message}\n${err.stack ?? ''}` }));
  });
}
