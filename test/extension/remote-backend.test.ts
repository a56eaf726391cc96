// The remote backend in a real editor (code-server + chromium) against a real llama-server (stories260K):
// with tandem.backend = "remote" and no local model, typing shows ghost text that the server generated
// (its decode counter moves), the status bar names the server; the server killed, the next completion
// turns the status bar into an error saying the server cannot be reached, and the editor keeps working;
// the server back on the same port, ghost text returns without a reload. VS Code's proxy setting
// (http.proxy) is honoured: with tandem.remote.url switched (no reload) to a host name that only the test's
// forwarding proxy knows, ghost text still comes, through the proxy. (VS Code sends loopback addresses
// direct, whatever http.proxy says, hence the made-up name.)
// Skips with the reason when llama-server cannot run here (not root, not Debian).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { LlamaServer, llamaServerSkipReason } from '../remote/llamaServer';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { extEnv, openBrowser, quickOpen, readText, startCodeServer, until } from './codeServer';

type Element = { innerText(): Promise<string>; click(): Promise<void>; getAttribute(n: string): Promise<string | null> };
type Page = {
  goto(url: string): Promise<unknown>;
  waitForSelector(sel: string, o?: { timeout?: number; state?: string }): Promise<Element>;
  keyboard: { press(k: string): Promise<void>; type(t: string, o?: { delay?: number }): Promise<void> };
  screenshot(o: { path: string }): Promise<unknown>;
  locator(sel: string, o?: { hasText?: string }): { locator(sel: string): { first(): { waitFor(o?: { timeout?: number }): Promise<void>; fill(v: string): Promise<void> } } };
  waitForTimeout(ms: number): Promise<void>;
};

/** The GPU box's name as the editor knows it: resolvable only by the proxy (.invalid never resolves). */
const BOX = 'tandem-gpu-box.invalid';

/** A forward HTTP proxy (absolute-form request lines, as clients send to an http:// proxy) that records
 *  what it forwards and sends BOX to 127.0.0.1; CONNECT (https) is not needed: the server is plain http. */
async function startProxy(): Promise<{ url: string; forwarded: string[]; close(): void }> {
  const forwarded: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    forwarded.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    if (target.hostname === BOX) target.hostname = '127.0.0.1';
    const up = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, forwarded, close: () => { server.closeAllConnections(); server.close(); } };
}

const skip = llamaServerSkipReason();
if (skip) console.log(`# skipping the remote-backend editor test: ${skip}`);

test('remote backend in the editor: ghost text from llama-server, status bar error when it dies, back when it returns, then through http.proxy', { skip, timeout: 300_000 }, async () => {
  const env = extEnv();
  const model = await ensureStories260K('f32');
  let server = await LlamaServer.start(model, ['-c', '1024', '-t', '1', '-np', '1', '--metrics']);
  const proxy = await startProxy();
  const run = await startCodeServer(env, repoRoot(), {
    'http.proxy': proxy.url,
    'http.proxySupport': 'override',
    'tandem.backend': 'remote',
    'tandem.remote.url': server.url,
    'tandem.remote.api': 'openai',
    'tandem.fimTemplate': 'prefix-only',
    'tandem.model': '',
    'tandem.debounceMs': 50,
    'tandem.maxTokens': 24,
    'tandem.languages': { '*': true },
    // The suggest widget hides ghost text that does not extend its selected item, and whether TypeScript's
    // word suggestions pop up over prose in story.js depends on timing: off, so the test is deterministic.
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  }, { 'story.js': '// A short story.\n' });
  const browser = await openBrowser<Page>(env, run);
  let ok = false;
  try {
    const { page } = browser;
    await page.goto(run.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    const host = new URL(server.url).host;
    await page.waitForSelector(`.statusbar-item:has-text("Tandem: ${host}")`, { timeout: 60_000 });

    await quickOpen(page, 'story.js');
    const lines = await page.waitForSelector('.monaco-editor .view-lines', { timeout: 20_000 });
    await lines.click();
    await page.keyboard.press('Control+End');

    // 1) ghost text generated by the server
    const decodedBefore = (await server.metrics()).n_decode_total;
    await page.keyboard.type('Once upon a time', { delay: 40 });
    const ghost = await page.waitForSelector('.ghost-text-decoration', { timeout: 60_000 }).catch((e: Error) => {
      throw new Error(`${e.message}\nthrough the proxy: ${JSON.stringify(proxy.forwarded)}\nTandem log:\n${readText(run.tandemLog())}`);
    });
    assert.ok((await ghost.innerText()).trim().length > 0, 'ghost text is empty');
    assert.ok((await server.metrics()).n_decode_total > decodedBefore, 'the server decoded nothing: the text came from elsewhere');
    await page.keyboard.press('Escape');

    // 2) the server dies: the next completion makes the status bar an error naming the server; no hang
    // (text the last suggestion cannot contain, so it is a new request, not typing along the old one)
    await server.kill();
    await page.keyboard.type(' Zq', { delay: 40 });
    const failed = await page.waitForSelector('.statusbar-item:has-text("Tandem:") [aria-label*="cannot reach the completion server"], .statusbar-item[aria-label*="cannot reach the completion server"]', { timeout: 30_000 });
    assert.match(String(await failed.getAttribute('aria-label')), new RegExp(`${host.replace(/\./g, '\\.')}.*Start the server`, 's'));
    await until('the log to record the failure', 10_000, () => /REMOTE_UNREACHABLE/.test(readText(run.tandemLog())));
    mkdirSync(join(env.root, 'screenshots'), { recursive: true });
    await page.screenshot({ path: join(env.root, 'screenshots', 'remote-error.png') });

    // 3) back on the same port: completions work again without a reload
    server = await server.restart();
    await page.keyboard.type(' Kw', { delay: 40 });
    await page.waitForSelector('.ghost-text-decoration', { timeout: 60_000 });
    await page.waitForSelector(`.statusbar-item:has-text("Tandem: ${host}"):not([aria-label*="cannot reach"])`, { timeout: 30_000 });
    await page.keyboard.press('Escape');

    // 4) through http.proxy: the URL switched to a name only the proxy resolves, without a reload
    const boxUrl = `http://${BOX}:${server.port}`;
    await page.keyboard.press('Control+Shift+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('Preferences: Open User Settings');
    await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Open User Settings")', { timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.waitForSelector('.settings-editor', { timeout: 20_000 });
    await page.waitForTimeout(1000); // the search box takes focus when the editor has rendered
    await page.keyboard.type('tandem.remote.url');
    const input = page.locator('.setting-item-contents', { hasText: 'Base URL of the inference server' }).locator('input').first();
    await input.waitFor({ timeout: 20_000 });
    await input.fill(boxUrl);
    await page.keyboard.press('Tab');
    await until('settings.json to hold the new URL', 10_000, () => readText(run.userSettingsPath).includes(boxUrl));
    await page.waitForSelector(`.statusbar-item:has-text("Tandem: ${BOX}:${server.port}")`, { timeout: 30_000 });
    await (await page.waitForSelector('.tab:has-text("story.js")', { timeout: 10_000 })).click();
    await (await page.waitForSelector('.monaco-editor .view-lines:has-text("Once upon")', { timeout: 20_000 })).click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' Jv', { delay: 40 });
    await page.waitForSelector('.ghost-text-decoration', { timeout: 60_000 });
    assert.ok(proxy.forwarded.some((l) => l.startsWith(`POST ${boxUrl}/v1/completions`)), `no completion request went through http.proxy: ${JSON.stringify(proxy.forwarded)}`);
    ok = true;
  } finally {
    if (!ok) await browser.page.screenshot({ path: join(run.dir, 'failure.png') }).catch(() => undefined);
    await browser.close();
    await server.stop();
    proxy.close();
    run.stop(!ok);
    if (!ok) console.log(`kept the run folder for inspection: ${run.dir}`);
  }
});
