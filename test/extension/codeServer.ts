// code-server (VS Code in a browser, the same Node extension host as desktop VS Code) driven by Debian's
// chromium through playwright-core, for the real-editor tests. scripts/ext-setup.sh installs all three;
// its variables (TANDEM_EXT_ROOT, N24_DIR, CS_DIR, PW_CORE) say where. All state lives in one run folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { join } from 'node:path';

export interface ExtEnv {
  root: string;
  node24: string;
  codeServer: string;
  playwrightCore: string;
}

export function extEnv(): ExtEnv {
  const { TANDEM_EXT_ROOT, N24_DIR, CS_DIR, PW_CORE } = process.env;
  if (!TANDEM_EXT_ROOT || !N24_DIR || !CS_DIR || !PW_CORE) {
    throw new Error('the real-editor tests need code-server, Node 24 and chromium: run `source <(bash scripts/ext-setup.sh --env)` first (scripts/test.sh does)');
  }
  return { root: TANDEM_EXT_ROOT, node24: join(N24_DIR, 'bin', 'node'), codeServer: join(CS_DIR, 'out', 'node', 'entry.js'), playwrightCore: PW_CORE };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const healthy = (port: number) => new Promise<boolean>((r) =>
  get(`http://127.0.0.1:${port}/healthz`, (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));

/** Polls `check` every 100 ms until it returns a value (a file or a server appearing: there is no event to wait on). */
export async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface CodeServerRun {
  port: number;
  dir: string;
  workspace: string;
  userSettingsPath: string;
  url: string;
  /** The Tandem LogOutputChannel's file, once the extension has written it. */
  tandemLog(): string;
  stop(keep: boolean): void;
}

const BASE_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'chat.disableAIFeatures': true,
  'window.commandCenter': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'files.hotExit': 'off',
};

export interface StartOptions {
  /** Install this .vsix into the run's fresh extensions folder (`code-server --install-extension`) and load
   *  Tandem from there instead of as a development extension (`extensionPath` is then unused). */
  vsix?: string;
  /** Run the extension tests at this path inside the extension host (VS Code's extension test API: the
   *  module's run()), with these variables in the extension host's environment. */
  extensionTestsPath?: string;
  extensionEnvironment?: Record<string, string>;
}

/** Starts code-server on a free port with `extensionPath` loaded as a development extension (or `opts.vsix` installed). */
export async function startCodeServer(env: ExtEnv, extensionPath: string, userSettings: Record<string, unknown>, files: Record<string, string>, opts: StartOptions = {}): Promise<CodeServerRun> {
  const runs = join(env.root, 'run');
  mkdirSync(runs, { recursive: true });
  const dir = mkdtempSync(join(runs, 'tandem-'));
  const workspace = join(dir, 'workspace');
  for (const d of ['xdg-config', 'xdg-data', 'xdg-cache', 'user-data/User', 'extensions', 'tmp', 'workspace']) mkdirSync(join(dir, d), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(workspace, name), text);
  const userSettingsPath = join(dir, 'user-data', 'User', 'settings.json');
  writeFileSync(userSettingsPath, JSON.stringify({ ...BASE_SETTINGS, ...userSettings }, null, 2));
  const childEnv = { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CACHE_HOME: join(dir, 'xdg-cache'), TMPDIR: join(dir, 'tmp') };
  if (opts.vsix) {
    const r = spawnSync(env.node24, [env.codeServer, '--user-data-dir', join(dir, 'user-data'), '--extensions-dir', join(dir, 'extensions'),
      '--install-extension', opts.vsix, '--force'], { env: childEnv, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`code-server --install-extension ${opts.vsix} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(env.node24, [env.codeServer, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', join(dir, 'user-data'), '--extensions-dir', join(dir, 'extensions'),
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    // enable-smoke-test-driver: the workbench then honours the extensionDevelopmentPath of the URL's payload
    '--vscode-option', 'enable-smoke-test-driver', '--ignore-last-opened', workspace], {
    env: childEnv,
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: true,
  });
  const stop = (keep: boolean) => {
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until('code-server to answer /healthz', 60_000, () => healthy(port));
  } catch (e) {
    stop(true);
    throw e;
  }
  const remote = `vscode-remote://127.0.0.1:${port}${extensionPath}`;
  const payload = opts.vsix ? [['skipWelcome', 'true']] : [['extensionDevelopmentPath', remote], ['skipWelcome', 'true']];
  if (opts.extensionTestsPath) payload.push(['extensionTestsPath', `vscode-remote://127.0.0.1:${port}${opts.extensionTestsPath}`]);
  if (opts.extensionEnvironment) payload.push(['extensionEnvironment', JSON.stringify(opts.extensionEnvironment)]);
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const tandemLog = () => findFile(join(dir, 'user-data', 'logs'), 'Tandem.log') ?? '';
  return { port, dir, workspace, userSettingsPath, url, tandemLog, stop };
}

function findFile(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (n === name) return p;
    if (statSync(p).isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    }
  }
  return undefined;
}

export function readText(path: string): string {
  return path && existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/**
 * Headless chromium (Debian's, driven by playwright-core) with its profile, HOME and temp in the run
 * folder, and its first page, typed as the caller's view of Playwright's Page.
 */
export async function openBrowser<P>(env: ExtEnv, run: CodeServerRun): Promise<{ page: P; close(): Promise<void> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require(env.playwrightCore);
  const udd = join(run.dir, 'chromium');
  const browser: { pages(): unknown[]; newPage(): Promise<unknown>; close(): Promise<void> } = await chromium.launchPersistentContext(udd, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 800 },
    env: { ...process.env, HOME: udd, XDG_CONFIG_HOME: udd, TMPDIR: udd },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = (browser.pages()[0] ?? (await browser.newPage())) as P;
  return { page, close: () => browser.close() };
}

/** The part of Playwright's Page that quickOpen needs. */
export interface KeyboardPage {
  keyboard: { press(key: string): Promise<void>; type(text: string, o?: { delay?: number }): Promise<void> };
  waitForSelector(sel: string, o?: { timeout?: number; state?: string }): Promise<unknown>;
}

/** Opens a workspace file with Quick Open (Ctrl+P, its name, Enter). */
export async function quickOpen(page: KeyboardPage, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(name);
  await page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 10_000 });
  await page.keyboard.press('Enter');
}
