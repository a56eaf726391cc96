// Keystroke-to-ghost-text latency in a real editor (code-server + chromium, the real engine process on
// stories260K): opens lodash's debounce.js (a real 191-line file from node_modules), types the seeded
// keystroke script of latencyStats.ts with tandem.promptCache on, reverts the file, types it again with
// the cache off. The page stamps each keydown and each change of the ghost text in the DOM (a
// MutationObserver); the extension writes one trace line per request (TANDEM_TRACE_FILE, src/completion/
// trace.ts). Both sides use Date.now() on this machine, so their stamps are on one clock.
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestTraceLine } from '../../src/completion/trace';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { extEnv, openBrowser, readText, startCodeServer, until, type CodeServerRun } from './codeServer';
import { keystrokeScript, summarize, type PauseOutcome, type PauseResult, type PauseStep } from './latencyStats';

export interface GhostLatencyOptions {
  /** Measured pauses per cache mode. */
  pauses: number;
  /** Pauses typed first and not measured (shader compilation, first prefill, the debounce's learning). */
  warmup?: number;
  seed?: number;
  log?: (message: string) => void;
  /** Where to keep the extension's trace file (otherwise deleted after a good run). */
  keepTrace?: string;
}

export interface GhostLatencyRun {
  results: PauseResult[];
  /** The trace lines of the measured windows (both modes). */
  requests: RequestTraceLine[];
  lines: Record<string, unknown>[];
}

/** The real file typed into; lodash is in package-lock.json, so a clean `npm ci` has it. */
export const SOURCE_FILE = 'node_modules/lodash/debounce.js';
/** Longest wait for the extension's answer to the last keystroke, and for its ghost text to render. */
const ANSWER_TIMEOUT_MS = 15_000;
/** The editor may cancel its request for the last keystroke and ask again; this long for the new one. */
const CANCELLED_GRACE_MS = 2_500;
const RENDER_TIMEOUT_MS = 5_000;
/** A ghost on screen before the answer that no DOM change follows within this is taken as kept (typed along). */
const KEPT_AFTER_MS = 1_000;
const POLL_MS = 15;

type Page = {
  goto(url: string): Promise<unknown>;
  waitForSelector(sel: string, o?: { timeout?: number; state?: string }): Promise<{ click(): Promise<void> } | null>;
  keyboard: { press(k: string): Promise<void>; type(t: string): Promise<void> };
  evaluate<T>(expression: string): Promise<T>;
  waitForTimeout(ms: number): Promise<void>;
  screenshot(o: { path: string }): Promise<unknown>;
  locator(sel: string, o?: { hasText?: string | RegExp }): Locator;
};
type Locator = { locator(sel: string): Locator; first(): Locator; waitFor(o?: { timeout?: number }): Promise<void>; click(): Promise<void> };
type GhostEvent = { at: number; text: string };

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stamps each keydown and each change of the visible ghost text (epoch ms); installed once per page. */
const INSTRUMENT = `(() => {
  if (window.__tandemLatency) return;
  const s = { keys: [], ghosts: [{ at: Date.now(), text: '' }] };
  window.__tandemLatency = s;
  window.addEventListener('keydown', () => s.keys.push(Date.now()), true);
  const sel = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview, .monaco-editor .ghost-text';
  const read = () => Array.from(document.querySelectorAll(sel), (e) => e.textContent || '').join('').replace(/\\s/g, '');
  let last = '';
  new MutationObserver(() => { const t = read(); if (t !== last) { last = t; s.ghosts.push({ at: Date.now(), text: t }); } })
    .observe(document.querySelector('.monaco-workbench'), { childList: true, subtree: true, characterData: true });
})()`;

/** The extension's trace file, read as it grows. */
class TraceReader {
  private offset = 0;
  private rest = '';
  readonly lines: RequestTraceLine[] = [];
  constructor(private readonly path: string) {}

  poll(): RequestTraceLine[] {
    if (!existsSync(this.path)) return this.lines;
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.offset)) > 0;) {
        this.offset += n;
        this.rest += buf.toString('utf8', 0, n);
      }
    } finally {
      closeSync(fd);
    }
    const parts = this.rest.split('\n');
    this.rest = parts.pop()!;
    for (const p of parts) if (p.trim()) this.lines.push(JSON.parse(p));
    return this.lines;
  }
}

export async function runGhostLatency(o: GhostLatencyOptions): Promise<GhostLatencyRun> {
  const env = extEnv();
  const log = o.log ?? (() => {});
  const model = await ensureStories260K('f32');
  const source = readFileSync(join(repoRoot(), SOURCE_FILE), 'utf8');
  const tracePath = join(env.root, 'run', `ghost-latency-${process.pid}-${Date.now()}.jsonl`);
  const savedTrace = process.env.TANDEM_TRACE_FILE;
  process.env.TANDEM_TRACE_FILE = tracePath; // inherited by code-server and its extension host
  let run: CodeServerRun;
  try {
    run = await startCodeServer(env, repoRoot(), {
      'tandem.model': model,
      'tandem.languages': { '*': true },
      'tandem.promptCache': true,
      // Only Tandem's ghost text on screen: no suggest widget, hovers or parameter hints in the way.
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
      'editor.wordBasedSuggestions': 'off',
      'editor.parameterHints.enabled': false,
      'editor.hover.enabled': false,
      'files.autoSave': 'off',
    }, { 'debounce.js': source });
  } finally {
    if (savedTrace === undefined) delete process.env.TANDEM_TRACE_FILE;
    else process.env.TANDEM_TRACE_FILE = savedTrace;
  }
  const browser = await openBrowser<Page>(env, run);
  let ok = false;
  try {
    const { page } = browser;
    await page.goto(run.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await until('the Tandem log to say the model is loaded', 120_000, () => /model loaded: stories260K/.test(readText(run.tandemLog())));
    await palette(page, 'Control+P', 'debounce.js', 'debounce.js');
    await focusFile(page);
    await page.evaluate(INSTRUMENT);
    const trace = new TraceReader(tracePath);
    const seed = o.seed ?? 1;
    const results: PauseResult[] = [];
    const windows: Array<[number, number]> = [];
    const measure = async (mode: 'on' | 'off', steps: PauseStep[], keep: boolean) => {
      const startMs = Date.now();
      for (const [i, step] of steps.entries()) {
        const r = await pause(page, trace, step, mode, i);
        if (keep) results.push(r);
        if (keep && (i + 1) % 20 === 0) log(`promptCache ${mode}: ${i + 1}/${steps.length} pauses`);
      }
      await revert(page);
      if (keep) windows.push([startMs, Date.now()]);
    };
    const script = keystrokeScript(source, o.pauses, seed);
    await measure('on', keystrokeScript(source, o.warmup ?? 3, seed + 1000), false);
    await measure('on', script, true);
    await turnPromptCacheOff(page, run);
    await measure('off', script, true);
    const requests = trace.poll().filter((q) => windows.some(([a, b]) => q.startedAtMs >= a && q.startedAtMs <= b));
    ok = true;
    return { results, requests, lines: summarize(results, requests) };
  } catch (e) {
    const shot = join(run.dir, 'failure.png');
    await browser.page.screenshot({ path: shot }).then(() => log(`screenshot: ${shot}`), () => {});
    throw e;
  } finally {
    await browser.close();
    run.stop(!ok);
    if (ok && o.keepTrace && existsSync(tracePath)) copyFileSync(tracePath, o.keepTrace);
    if (ok) rmSync(tracePath, { force: true });
    else log(`kept the run folder (${run.dir}) and the trace (${tracePath}) for inspection`);
  }
}

/**
 * Opens a quick input with `keys`, types `text` and clicks the first row showing `rowText` (not Enter:
 * the first row may be a recently used look-alike, such as "Revert and Close Editor").
 */
async function palette(page: Page, keys: string, text: string, rowText: string | RegExp): Promise<void> {
  await page.keyboard.press(keys);
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(text);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: rowText }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.click();
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
}

/** Makes debounce.js the active editor, with the keyboard in it. */
async function focusFile(page: Page): Promise<void> {
  await (await page.waitForSelector('.tab.active:has-text("debounce.js")', { timeout: 10_000 }))!.click();
  await (await page.waitForSelector('.editor-group-container.active .monaco-editor .view-lines', { timeout: 10_000 }))!.click();
}

/** Back to the file as it is on disk, so both cache modes type the same script into the same text. */
async function revert(page: Page): Promise<void> {
  await page.keyboard.press('Escape');
  await palette(page, 'Control+Shift+P', 'File: Revert File', 'Revert File');
  await page.waitForSelector('.tab.active:not(.dirty):has-text("debounce.js")', { timeout: 10_000 });
}

/**
 * Turns tandem.promptCache off in the Settings UI (no reload: the extension reads it on the next request),
 * waits for the extension to take it, and goes back to the file.
 */
async function turnPromptCacheOff(page: Page, run: CodeServerRun): Promise<void> {
  const changes = () => readText(run.tandemLog()).split('settings changed').length;
  const before = changes();
  await palette(page, 'Control+Shift+P', 'Preferences: Open User Settings', /Open User Settings(?! \(JSON\))/);
  await page.waitForSelector('.settings-editor', { timeout: 20_000 });
  await (await page.waitForSelector('.settings-editor .suggest-input-container', { timeout: 20_000 }))!.click();
  await page.keyboard.type('tandem.promptCache');
  const box = page.locator('.setting-item-contents', { hasText: 'prompt K/V across edits' }).locator('.setting-value-checkbox').first();
  await box.waitFor({ timeout: 20_000 });
  await box.click();
  await until('settings.json to say tandem.promptCache false', 10_000, () => /"tandem\.promptCache": false/.test(readText(run.userSettingsPath)));
  await until('the extension to see the change', 10_000, () => changes() > before);
  await palette(page, 'Control+P', 'debounce.js', 'debounce.js');
  await focusFile(page);
}

/** One keystroke pause: move, type the run at the script's rhythm, wait for the answer and its ghost text. */
async function pause(page: Page, trace: TraceReader, step: PauseStep, mode: 'on' | 'off', index: number): Promise<PauseResult> {
  if (step.line !== undefined) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+G');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type(String(step.line));
    await page.keyboard.press('Enter');
    await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
    await page.keyboard.press('End');
  }
  if (step.newline) await page.keyboard.press('Enter');
  const ghostFrom = await page.evaluate<number>('window.__tandemLatency.ghosts.length');
  const traceFrom = trace.poll().length;
  const chars = [...step.text];
  for (const [i, ch] of chars.entries()) {
    await page.keyboard.type(ch);
    // The typist's rhythm between keys is the input of the measurement, not a wait for an event.
    if (i < chars.length - 1) await page.waitForTimeout(step.gapsMs[i]);
  }
  const keystrokeAtMs = await page.evaluate<number>('window.__tandemLatency.keys.at(-1)');
  const base = { mode, index, keystrokeAtMs };
  const request = await finalRequest(trace, traceFrom, keystrokeAtMs);
  const ghosts = () => page.evaluate<GhostEvent[]>(`window.__tandemLatency.ghosts.slice(${ghostFrom - 1})`);
  if (request && (request.outcome === 'shown' || request.outcome === 'reused')) {
    const end = Date.now() + RENDER_TIMEOUT_MS;
    for (;;) {
      const events = await ghosts();
      const drawn = events.find((e) => e.at >= request.returnedAtMs && e.text !== '');
      if (drawn) return { ...base, outcome: request.outcome, request, ghostAtMs: drawn.at };
      // A ghost already on screen when the answer came (typed along it) may get no new DOM change at all.
      const kept = keptSince(events, keystrokeAtMs);
      if (kept !== undefined && Date.now() > request.returnedAtMs + KEPT_AFTER_MS) return { ...base, outcome: 'kept', request, ghostAtMs: kept };
      if (Date.now() > end) return { ...base, outcome: 'notRendered', request };
      await delay(POLL_MS);
    }
  }
  // No new text for the last keystroke; a ghost that stayed valid as the user typed along it is still seen.
  const kept = keptSince(await ghosts(), keystrokeAtMs);
  if (kept !== undefined) return { ...base, outcome: 'kept', request, ghostAtMs: kept };
  if (!request || request.outcome === 'skipped') return { ...base, outcome: 'noRequest', request };
  const outcome: PauseOutcome = request.outcome === 'empty' ? 'empty' : request.outcome === 'error' ? 'error' : 'cancelled';
  return { ...base, outcome, request };
}

/**
 * When the ghost text now on screen became visible, not before the keystroke (a ghost visible across
 * it was there at once); undefined when none is on screen.
 */
function keptSince(events: GhostEvent[], keystrokeAtMs: number): number | undefined {
  if (!events.length || events.at(-1)!.text === '') return undefined;
  let i = events.length - 1;
  while (i > 0 && events[i - 1].text !== '') i--;
  return Math.max(keystrokeAtMs, events[i].at);
}

/**
 * The extension's answer to the run's last keystroke: among requests the editor made after it, those of
 * the newest document version; the last of them that a newer one did not supersede. A cancelled one is
 * taken when nothing follows it within CANCELLED_GRACE_MS (the editor may ask again).
 */
async function finalRequest(trace: TraceReader, from: number, keystrokeAtMs: number): Promise<RequestTraceLine | undefined> {
  const end = Date.now() + ANSWER_TIMEOUT_MS;
  let cancelledSeenMs: number | undefined;
  for (;;) {
    const after = trace.poll().slice(from).filter((q) => q.startedAtMs >= keystrokeAtMs);
    const version = Math.max(...after.map((q) => q.documentVersion));
    const last = after.filter((q) => q.documentVersion === version && q.outcome !== 'superseded').at(-1);
    if (last && last.outcome !== 'cancelled') return last;
    if (last) cancelledSeenMs ??= Date.now();
    if (last && Date.now() - cancelledSeenMs! > CANCELLED_GRACE_MS) return last;
    if (Date.now() > end) return last;
    await delay(POLL_MS);
  }
}
