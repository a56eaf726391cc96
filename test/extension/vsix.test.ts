// The packaged extension: `scripts/package.mjs --target linux-x64` gives a .vsix holding exactly what
// Tandem loads at run time (one platform's Dawn binary, no sources, maps, tests or dev packages); installed
// with `code-server --install-extension` into a fresh extensions folder (no development path), it loads
// stories260K in its engine process and shows ghost text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { extEnv, openBrowser, quickOpen, readText, startCodeServer, until } from './codeServer';

type Page = {
  goto(url: string): Promise<unknown>;
  waitForSelector(sel: string, o?: { timeout?: number; state?: string }): Promise<{ innerText(): Promise<string>; click(): Promise<void> }>;
  keyboard: { press(k: string): Promise<void>; type(t: string, o?: { delay?: number }): Promise<void> };
};

interface VsixLine { name: string; target: string; path: string; bytes: number; files: number; dawn: string[] }

test('the linux-x64 .vsix holds only run-time files and one Dawn binary; installed in code-server, it shows ghost text', { timeout: 300_000 }, async () => {
  const env = extEnv();
  const root = repoRoot();
  const out = mkdtempSync(join(env.root, 'vsix-'));
  try {
    const stdout = execFileSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--target', 'linux-x64', '--out', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as VsixLine);
    assert.equal(lines.length, 1);
    const vsix = join(root, lines[0].path);
    console.log(JSON.stringify(lines[0]));
    const entries = execFileSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--entries', vsix], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(entries.length, lines[0].files);

    // exactly one platform's Dawn binary, and it is linux-x64's
    assert.deepEqual(entries.filter((e) => /dawn\.node$|\.dll$|\.dylib$/.test(e)), ['extension/node_modules/webgpu/dist/linux-x64/dawn.node']);
    // what the extension loads at run time is there ...
    for (const f of ['dist/extension.js', 'dist/engine.js', 'dist/repackWorker.js', 'package.json', 'node_modules/webgpu/index.js', 'node_modules/webgpu/package.json',
      'node_modules/@huggingface/tokenizers/dist/tokenizers.cjs', 'node_modules/@huggingface/tokenizers/package.json']) {
      assert.ok(entries.includes(`extension/${f}`), `${f} is missing from the .vsix`);
    }
    // ... and nothing else: no sources, tests, maps, kernels (bundled as text), dev or bundled packages
    const stray = entries.filter((e) => /\.(ts|map|wgsl|gguf)$|^extension\/(src|test|bench|scripts|kernels|dist-test|dist-bench|\.cache)\//.test(e) ||
      /node_modules\/(node-llama-cpp|@lenml|lru-cache|debug|ms|@webgpu\/types|@vscode|typescript|esbuild|mocha)\//.test(e));
    assert.deepEqual(stray, []);
    assert.ok(lines[0].bytes < 12 * 1024 * 1024, `the .vsix is ${lines[0].bytes} bytes`);

    const model = await ensureStories260K('f32');
    const run = await startCodeServer(env, '', {
      'tandem.model': model, 'tandem.debounceMs': 50, 'tandem.maxTokens': 16, 'tandem.languages': { '*': true },
      // as in ghost-text.test.ts: TypeScript's word suggestions popping up over the prose (timing-dependent) hide the ghost text
      'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    },
      { 'story.js': '// A short story.\n' }, { vsix });
    let ok = false;
    let browser: { page: Page; close(): Promise<void> } | undefined;
    try {
      // installed from the .vsix (extensions.json says so), not loaded from the repository
      const installed = (JSON.parse(readText(join(run.dir, 'extensions', 'extensions.json'))) as { identifier: { id: string }; relativeLocation: string; metadata?: { source?: string } }[])
        .find((e) => e.identifier.id === 'tandem-dev.tandem');
      assert.equal(installed?.metadata?.source, 'vsix');
      const installedDir = join(run.dir, 'extensions', installed!.relativeLocation);
      assert.ok(existsSync(join(installedDir, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node')));
      browser = await openBrowser<Page>(env, run);
      const { page } = browser;
      await page.goto(run.url);
      await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
      await until('the Tandem log to say the model is loaded', 90_000, () => /model loaded: stories260K/.test(readText(run.tandemLog())));
      // the engine process runs the installed copy's bundle (and so loads that copy's webgpu)
      assert.ok(readText(run.tandemLog()).includes(`starting the engine on Node.js`) && readText(run.tandemLog()).includes(join(installedDir, 'dist', 'engine.js')),
        `the engine did not start from ${installedDir}:\n${readText(run.tandemLog())}`);

      await quickOpen(page, 'story.js');
      const view = await page.waitForSelector('.monaco-editor .view-lines', { timeout: 20_000 });
      await view.click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type('Once upon a time', { delay: 40 });
      const ghost = await page.waitForSelector('.ghost-text-decoration', { timeout: 60_000 });
      assert.ok((await ghost.innerText()).trim().length > 0, 'ghost text is empty');
      ok = true;
    } finally {
      await browser?.close();
      if (ok) console.log(readText(run.tandemLog()).split('\n').filter((l) => /node runtime: chose|starting the engine|model loaded/.test(l)).join('\n'));
      run.stop(!ok);
      if (!ok) console.log(`kept the run folder for inspection: ${run.dir}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
