// The extension in a real editor (code-server + chromium): type into a file, see ghost text produced by
// the real engine on stories260K in the engine process, accept a word of it (Ctrl+Right) then the rest with Tab, open the status bar menu,
// run a palette command, change a setting in the Settings UI and see the extension take it without a
// reload. Screenshots go to .cache/ext-test/screenshots (and to media/ with TANDEM_UPDATE_MEDIA=1).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { extEnv, openBrowser, quickOpen, readText, startCodeServer, until } from './codeServer';

type FrameLocator = {
  frameLocator(sel: string): FrameLocator;
  locator(sel: string, o?: { hasText?: string }): { waitFor(o?: { timeout?: number }): Promise<void>; innerText(): Promise<string>; getAttribute(name: string): Promise<string | null> };
};
type Page = {
  goto(url: string): Promise<unknown>;
  frameLocator(sel: string): FrameLocator;
  waitForSelector(sel: string, o?: { timeout?: number; state?: string }): Promise<{ innerText(): Promise<string>; click(): Promise<void> }>;
  keyboard: { press(k: string): Promise<void>; type(t: string, o?: { delay?: number }): Promise<void> };
  screenshot(o: { path: string }): Promise<unknown>;
  locator(sel: string, o?: { hasText?: string }): { locator(sel: string): { first(): { waitFor(o?: { timeout?: number }): Promise<void>; fill(v: string): Promise<void> } } };
  $eval(sel: string, f: (e: { innerText: string }) => string): Promise<string>;
  $$eval(sel: string, f: (es: { innerText: string }[]) => string): Promise<string>;
  waitForTimeout(ms: number): Promise<void>;
};

test('ghost text from the engine, a word accepted with Ctrl+Right and the rest with Tab, status menu, palette command, a setting changed in the Settings UI', { timeout: 240_000 }, async () => {
  const env = extEnv();
  const model = await ensureStories260K('f32');
  const shots = join(env.root, 'screenshots');
  mkdirSync(shots, { recursive: true });
  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(shots, name) });
    if (process.env.TANDEM_UPDATE_MEDIA === '1') copyFileSync(join(shots, name), join(repoRoot(), 'media', name));
  };
  const run = await startCodeServer(env, repoRoot(), {
    'tandem.model': model,
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
    await until('the Tandem log to say the model is loaded', 90_000, () => /model loaded: stories260K/.test(readText(run.tandemLog())));
    // The engine runs on the runtime the selector chose after its self-test: in code-server, a `node` on PATH
    // or the extension host's own plain Node, never an unchecked default.
    const started = /starting the engine on Node\.js (v\d+\.\d+\.\d+) \((host|path) ([^)]+)\)/.exec(readText(run.tandemLog()));
    assert.ok(started, `no "starting the engine on Node.js ... (host|path ...)" line in the log:\n${readText(run.tandemLog())}`);
    assert.match(readText(run.tandemLog()), new RegExp(`node runtime: chose ${started[2]} .*\\(${started[1].replace(/\./g, '\\.')}, webgpu`));

    // 1) type at the end of a file: ghost text from the engine
    await quickOpen(page, 'story.js');
    const lines = await page.waitForSelector('.monaco-editor .view-lines', { timeout: 20_000 });
    await lines.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('Once upon a time', { delay: 40 });
    await page.waitForSelector('.ghost-text-decoration', { timeout: 60_000 });
    // The suggestion's first line, drawn in one or more spans (spaces as no-break spaces).
    const ghostText = (await page.$$eval('.ghost-text-decoration', (es) => es.map((e) => e.innerText).join(''))).replace(/\u00a0/g, ' ');
    assert.ok(ghostText.trim().length > 0, 'ghost text is empty');
    await shot(page, 'ghost-text.png');

    // 2) partial accept (Ctrl+Right: VS Code's "accept next word") takes the start of the suggestion, then Tab
    //    the rest. The document is checked on disk after a save: the ghost text is drawn inside the same
    //    lines, so the DOM cannot tell accepted text from suggested text.
    const typed = '// A short story.\nOnce upon a time';
    const saved = async () => { await page.keyboard.press('Control+S'); return readText(join(run.workspace, 'story.js')); };
    await page.keyboard.press('Control+ArrowRight');
    const afterWord = await until('a partial accept saved', 10_000, async () => { const t = await saved(); return t.startsWith(typed) && t.length > typed.length && t; });
    const taken = afterWord.slice(typed.length);
    assert.ok(afterWord.startsWith(typed) && taken.length > 0 && ghostText.startsWith(taken), `Ctrl+Right took ${JSON.stringify(taken)} of the suggestion ${JSON.stringify(ghostText)}`);
    if (/\S\s+\S/.test(ghostText)) assert.ok(taken.length < ghostText.length, `Ctrl+Right took the whole suggestion ${JSON.stringify(ghostText)}, not a word`);
    await page.waitForSelector('.ghost-text-decoration', { timeout: 10_000 });
    await page.keyboard.press('Tab');
    await until('the whole suggestion accepted and saved', 10_000, async () => (await saved()).startsWith(typed + ghostText));
    await page.keyboard.press('Escape');
    await shot(page, 'accepted.png');

    // 2b) with the suggest widget open (Ctrl+Space on "setTim"), the ghost text extends its selected item:
    //     the request is made as if the item were accepted, and VS Code shows it after the item's text.
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('setTim', { delay: 40 });
    await page.keyboard.press('Control+Space');
    const label = await (await page.waitForSelector('.suggest-widget .monaco-list-row.focused .label-name', { timeout: 30_000 })).innerText();
    assert.ok(label.startsWith('setTim'), `the suggest widget's first item is ${label}`);
    // (the item's own rest may show first, as the suggest preview; the engine's text follows it)
    const rest = label.slice('setTim'.length);
    // (the item's part and the engine's part are drawn in spans of two classes: ghost-text-decoration[-preview])
    const ghostNow = async () => (await page.$$eval('[class*="ghost-text-decoration"]', (es) => es.map((e) => e.innerText).join(''))).replace(/\u00a0/g, ' ');
    let extended = '';
    await until('ghost text extending the selected item', 30_000, async () => { extended = await ghostNow(); return extended.startsWith(rest) && extended.length > rest.length; })
      .catch((e: Error) => { throw new Error(`${e.message}: last ghost text ${JSON.stringify(extended)}, item ${label}`); });
    await page.waitForSelector('.suggest-widget.visible', { timeout: 1000 });
    await shot(page, 'ghost-with-suggest.png');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');

    // 3) the status bar item opens the menu of commands
    const item = await page.waitForSelector('.statusbar-item:has-text("Tandem")', { timeout: 10_000 });
    await item.click();
    await page.waitForSelector('.quick-input-widget .monaco-list-row:has-text("Show Statistics")', { timeout: 10_000 });
    await shot(page, 'status-menu.png');
    await page.keyboard.press('Escape');

    // 4) a palette command: the statistics panel (a webview) opens, with the completion counted and charted
    await page.keyboard.press('Control+Shift+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('Tandem: Show Statistics');
    await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Show Statistics")', { timeout: 10_000 });
    await page.keyboard.press('Enter');
    // The page sits in the webview's inner frame (iframe.webview → iframe#active-frame).
    const view = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
    await view.locator('td', { hasText: 'tokens reused / prefilled' }).waitFor({ timeout: 20_000 });
    const stats = (await view.locator('body').innerText()).replace(/\u00a0/g, ' ');
    assert.match(stats, /stories260K/);
    // completions run through the engine's per-document prompt cache (keyed by the document's URI)
    assert.match(stats, /tokens reused \/ prefilled\s+\d+ \/ [1-9]\d*/);
    // the latency chart has a point for the engine's p50 (requests have finished)
    assert.match((await view.locator('#series-p50').getAttribute('d')) ?? '', /^M[\d.]+,[\d.]+/);
    await shot(page, 'statistics.png');

    // 5) the Settings UI: tandem.maxTokens → 32, taken without a reload
    await page.keyboard.press('Control+Shift+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('Preferences: Open User Settings');
    await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Open User Settings")', { timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.waitForSelector('.settings-editor', { timeout: 20_000 });
    await page.waitForTimeout(1000); // the search box takes focus when the editor has rendered
    await page.keyboard.type('tandem.maxTokens');
    const input = page.locator('.setting-item-contents', { hasText: 'Most tokens generated' }).locator('input').first();
    await input.waitFor({ timeout: 20_000 });
    await input.fill('32');
    await page.keyboard.press('Tab');
    await until('settings.json to hold the new value', 10_000, () => /"tandem\.maxTokens": 32/.test(readText(run.userSettingsPath)));
    await until('the extension to see the change', 10_000, () => /settings changed/.test(readText(run.tandemLog())));
    await shot(page, 'settings.png');
    ok = true;
  } finally {
    if (!ok) await browser.page.screenshot({ path: join(run.dir, 'failure.png') }).catch(() => undefined);
    await browser.close();
    run.stop(!ok);
    if (!ok) console.log(`kept the run folder for inspection: ${run.dir}`);
  }
});
