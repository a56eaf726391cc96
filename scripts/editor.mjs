// Runs code-server on 127.0.0.1 (a free port, no auth) with a Tandem .vsix installed and a folder open, for
// `npm start` (scripts/main.sh) when there is no desktop VS Code. Needs the variables of
// `bash scripts/ext-setup.sh --env` (Node 24 and code-server; chromium and playwright-core for --check).
//   node scripts/editor.mjs --vsix X.vsix --workspace DIR [--state DIR] [--check]
// Prints the URL and runs until Ctrl-C. --check instead proves the editor came up: the URL answers HTTP 200,
// a headless chromium opens the workbench (code-server starts the extension host only for a connected
// window) and Tandem's log says the model loaded; then it prints one JSON line, stops code-server, exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'chat.disableAIFeatures': true,
};

function parseArgs(argv) {
  const a = { vsix: '', workspace: '', state: join(root, '.cache', 'editor'), check: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--vsix') a.vsix = resolve(argv[++i]);
    else if (argv[i] === '--workspace') a.workspace = resolve(argv[++i]);
    else if (argv[i] === '--state') a.state = resolve(argv[++i]);
    else if (argv[i] === '--check') a.check = true;
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!a.vsix || !a.workspace) throw new Error('usage: node scripts/editor.mjs --vsix X.vsix --workspace DIR [--state DIR] [--check]');
  return a;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

const httpStatus = (url) => new Promise((r) => get(url, (res) => { res.resume(); r(res.statusCode); }).on('error', () => r(0)));

/** Polls every 200 ms: a server coming up or a log line appearing has no event to wait on. */
async function until(what, timeoutMs, check) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function findFiles(dir, name, out = []) {
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) findFiles(p, name, out);
    else if (n === name) out.push(p);
  }
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const { N24_DIR, CS_DIR, PW_CORE } = process.env;
  if (!N24_DIR || !CS_DIR) throw new Error('run `eval "$(bash scripts/ext-setup.sh --env)"` first (scripts/main.sh does)');
  const node24 = join(N24_DIR, 'bin', 'node');
  const codeServer = join(CS_DIR, 'out', 'node', 'entry.js');
  // --check works in a throw-away state folder; a normal run keeps settings and extensions between runs
  mkdirSync(a.state, { recursive: true });
  const state = a.check ? mkdtempSync(join(a.state, 'check-')) : a.state;
  for (const d of ['user-data/User', 'extensions', 'xdg-config', 'xdg-data', 'xdg-cache']) mkdirSync(join(state, d), { recursive: true });
  const settingsPath = join(state, 'user-data', 'User', 'settings.json');
  const userSettings = existsSync(settingsPath) ? JSON.parse(readFileSync(settingsPath, 'utf8')) : {};
  writeFileSync(settingsPath, JSON.stringify({ ...SETTINGS, ...userSettings }, null, 2));
  const env = { ...process.env, XDG_CONFIG_HOME: join(state, 'xdg-config'), XDG_DATA_HOME: join(state, 'xdg-data'), XDG_CACHE_HOME: join(state, 'xdg-cache') };
  const dirs = ['--user-data-dir', join(state, 'user-data'), '--extensions-dir', join(state, 'extensions')];

  const install = spawnSync(node24, [codeServer, ...dirs, '--install-extension', a.vsix, '--force'], { env, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`code-server --install-extension ${a.vsix} failed:\n${install.stdout}${install.stderr}`);

  const port = await freePort();
  const startedMs = Date.now();
  const child = spawn(node24, [codeServer, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, ...dirs,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened', a.workspace],
  { env, stdio: ['ignore', a.check ? 'ignore' : 'inherit', a.check ? 'ignore' : 'inherit'], detached: true });
  let exited = false;
  const exit = new Promise((r) => child.on('exit', (code) => { exited = true; r(); if (!a.check) process.exit(code ?? 1); }));
  const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  process.on('SIGTERM', () => { stop(); process.exit(143); });

  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(a.workspace)}`;
  try {
    await until('code-server to answer HTTP 200', 90_000, async () => { if (exited) throw new Error('code-server exited'); return (await httpStatus(url)) === 200; });
    if (!a.check) {
      console.error(`\n  Tandem is running in code-server:  ${url}\n  (open it in a browser; Ctrl-C stops the editor)\n`);
      return;
    }
    console.error(`tandem: code-server answers at ${url}; opening it in headless chromium to load Tandem`);
    const { chromium } = createRequire(import.meta.url)(PW_CORE);
    const udd = join(state, 'chromium');
    const browser = await chromium.launchPersistentContext(udd, {
      executablePath: '/usr/bin/chromium', headless: true, env: { ...process.env, HOME: udd, XDG_CONFIG_HOME: udd, TMPDIR: udd },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(url);
      await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
      const workbenchMs = Date.now() - startedMs;
      const logText = () => findFiles(join(state, 'user-data', 'logs'), 'Tandem.log').map((p) => readFileSync(p, 'utf8')).join('\n');
      const loaded = await until("Tandem's log to say the model loaded", 180_000, () => /model loaded: [^\n]*/.exec(logText())?.[0]);
      console.log(JSON.stringify({ name: 'editor-check', url, workbenchMs, modelLoadedMs: Date.now() - startedMs, log: loaded }));
    } catch (e) {
      console.error(`tandem: the editor check failed; Tandem's log:\n${findFiles(join(state, 'user-data', 'logs'), 'Tandem.log').map((p) => readFileSync(p, 'utf8')).join('\n') || '(none)'}`);
      throw e;
    } finally {
      await browser.close();
    }
    stop();
    await Promise.race([exit, new Promise((r) => setTimeout(r, 10_000).unref())]);
    try { rmSync(state, { recursive: true, force: true }); } catch { /* code-server still closing files: left under .cache/editor */ }
  } catch (e) {
    stop();
    throw e;
  }
}

main().catch((e) => {
  console.error(`tandem: ${e.message}`);
  process.exit(1);
});
