// The ghost-latency benchmark's arithmetic, apart from the browser: the seeded keystroke script, one
// pause's split of keystroke-to-ghost-text into parts, and the JSON lines (p50/p95 per part and cache
// mode, off/on ratios, counts). ghostLatency.ts drives the editor; this file only computes.
import type { RequestTraceLine } from '../../src/completion/trace';
import { percentile } from '../../src/bench/stats';

/**
 * One keystroke pause: go to the end of `line` (1-based; undefined: stay where the last pause left the
 * cursor, as when typing on), optionally open a new line, type `text`, wait for the ghost text.
 */
export interface PauseStep {
  line?: number;
  newline: boolean;
  text: string;
  /** Wait after each character, ms (the typist's rhythm). */
  gapsMs: number[];
}

/** mulberry32: a small seeded PRNG, so both cache modes type the same script. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * `pauses` steps over `source`. Half go on typing where the last one stopped (one in three of those after
 * Enter), half jump to the end of a random line (one in four of those then open a new line below it); the
 * first always jumps. The typed run is 2–8 characters cut at a word start from a line of the same file
 * (code the file already speaks), typed with 70–180 ms between keys (about 8 characters a second).
 */
export function keystrokeScript(source: string, pauses: number, seed: number): PauseStep[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const lines = source.split('\n');
  const donors = lines.map((l) => l.trim()).filter((l) => l.length >= 6);
  let lineCount = lines.length;
  const steps: PauseStep[] = [];
  for (let i = 0; i < pauses; i++) {
    const stay = i > 0 && r() < 0.5;
    const newline = r() < (stay ? 1 / 3 : 0.25);
    const donor = pick(donors);
    const starts = [...donor.matchAll(/\b\w/g)].map((m) => m.index!).filter((at) => at < donor.length - 2);
    const at = starts.length ? pick(starts) : 0;
    const text = donor.slice(at, at + 2 + Math.floor(r() * 7)).trimEnd() || donor.slice(0, 3);
    const line = stay ? undefined : 1 + Math.floor(r() * lineCount);
    steps.push({ line, newline, text, gapsMs: [...text].map(() => 70 + Math.floor(r() * 111)) });
    if (newline) lineCount++;
  }
  return steps;
}

/**
 * What one pause showed: 'shown' (model text reached the DOM after the final request returned),
 * 'reused' (the service's completion cache answered), 'kept' (a ghost already on screen stayed valid as
 * the user typed along it: nothing new to render), 'empty' (the final request had no text), 'cancelled',
 * 'notRendered' (text handed to the editor, never seen in the DOM), 'noRequest' (the editor never asked).
 */
export type PauseOutcome = 'shown' | 'reused' | 'kept' | 'empty' | 'cancelled' | 'error' | 'notRendered' | 'noRequest';

export interface PauseResult {
  mode: 'on' | 'off';
  index: number;
  /** Epoch ms (Date.now() in the page) of the run's last keydown. */
  keystrokeAtMs: number;
  /** Epoch ms (Date.now() in the page) when the ghost text appeared in the DOM. */
  ghostAtMs?: number;
  outcome: PauseOutcome;
  /** The extension's trace line of the request for the final keystroke. */
  request?: RequestTraceLine;
}

export const PARTS = ['total', 'editor', 'debounce', 'queue', 'tokenize', 'prefill', 'generation', 'other', 'render'] as const;
export type Part = (typeof PARTS)[number];

/**
 * Keystroke-to-ghost-text of a model-served pause, in parts that add up to the total (ms): 'editor'
 * (keydown to the provider call: VS Code's own 50 ms debounce and the browser → extension host hop),
 * 'debounce' (Tandem's adaptive wait), the engine's 'queue', 'tokenize', 'prefill', 'generation', 'other'
 * (engine-process IPC, post-processing, the service's bookkeeping), 'render' (provider's return to the
 * ghost text in the DOM). Page and extension host stamp Date.now() on the same machine: one clock.
 */
export function split(p: PauseResult): Record<Part, number> | undefined {
  const q = p.request;
  const t = q?.timings;
  if (p.outcome !== 'shown' || !q || !t || p.ghostAtMs === undefined || q.debounceMs === undefined) return undefined;
  const handled = q.returnedAtMs - q.startedAtMs;
  return {
    total: p.ghostAtMs - p.keystrokeAtMs,
    editor: q.startedAtMs - p.keystrokeAtMs,
    debounce: q.debounceMs,
    queue: t.queueMs,
    tokenize: t.tokenizeMs,
    prefill: t.prefillMs,
    generation: t.decodeMs,
    other: handled - q.debounceMs - t.queueMs - t.tokenizeMs - t.prefillMs - t.decodeMs,
    render: p.ghostAtMs - q.returnedAtMs,
  };
}


const round = (x: number) => Math.round(x * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/**
 * The benchmark's JSON lines: per mode and part p50/p95 over model-served pauses; per mode the total over
 * every pause that showed ghost text (reused and kept included); counts of pauses and of requests by
 * outcome; off/on ratios of the total and the prefill (p50, p95).
 */
export function summarize(results: PauseResult[], requests: RequestTraceLine[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const p50 = new Map<string, number>();
  const p95 = new Map<string, number>();
  for (const mode of ['on', 'off'] as const) {
    const mine = results.filter((r) => r.mode === mode);
    if (!mine.length) continue;
    const splits = mine.map(split).filter((s): s is Record<Part, number> => !!s);
    for (const part of PARTS) {
      const xs = splits.map((s) => s[part]);
      p50.set(`${mode}.${part}`, percentile(xs, 0.5));
      p95.set(`${mode}.${part}`, percentile(xs, 0.95));
      out.push({ name: 'ghost_latency', promptCache: mode, part, p50: round(percentile(xs, 0.5)), p95: round(percentile(xs, 0.95)), unit: 'ms', n: xs.length });
    }
    const seen = mine.filter((r) => r.ghostAtMs !== undefined).map((r) => r.ghostAtMs! - r.keystrokeAtMs);
    out.push({ name: 'ghost_latency_any_source', promptCache: mode, part: 'total', p50: round(percentile(seen, 0.5)), p95: round(percentile(seen, 0.95)), unit: 'ms', n: seen.length });
    const tokens = splits.length ? mine.filter((r) => split(r)).map((r) => r.request!.timings!) : [];
    out.push({
      name: 'ghost_latency_prompt', promptCache: mode, unit: 'tokens', n: tokens.length,
      promptTokensP50: percentile(tokens.map((t) => t.promptTokens), 0.5),
      reusedTokensP50: percentile(tokens.map((t) => t.reusedTokens ?? 0), 0.5),
      prefilledTokensP50: percentile(tokens.map((t) => t.promptTokens - (t.reusedTokens ?? 0)), 0.5),
    });
    const byOutcome = (o: string) => mine.filter((r) => r.outcome === o).length;
    const reqs = requests.filter((q) => q.promptCache === (mode === 'on'));
    const reqOutcome = (o: string) => reqs.filter((q) => q.outcome === o).length;
    out.push({
      name: 'ghost_latency_counts', promptCache: mode, pauses: mine.length,
      shown: byOutcome('shown'), reused: byOutcome('reused'), kept: byOutcome('kept'), empty: byOutcome('empty'),
      cancelled: byOutcome('cancelled'), notRendered: byOutcome('notRendered'), noRequest: byOutcome('noRequest'), error: byOutcome('error'),
      requests: reqs.length, requestsShown: reqOutcome('shown'), requestsReused: reqOutcome('reused'), requestsEmpty: reqOutcome('empty'),
      requestsSuperseded: reqOutcome('superseded'), requestsCancelled: reqOutcome('cancelled'), requestsSkipped: reqOutcome('skipped'), requestsError: reqOutcome('error'),
      // requests that reached the engine and were then dropped for a newer keystroke (work thrown away)
      requestsCancelledInEngine: reqs.filter((q) => (q.outcome === 'cancelled' || q.outcome === 'superseded') && q.backendMs !== undefined).length,
    });
  }
  const paired = pairedLine(results);
  if (paired) out.push(paired);
  for (const part of ['total', 'prefill'] as const) {
    if (!p50.has(`on.${part}`) || !p50.has(`off.${part}`)) continue;
    out.push({
      name: 'ghost_latency_ratio', part, unit: 'x', vs: 'promptCache on',
      p50: ratio(p50.get(`off.${part}`)!, p50.get(`on.${part}`)!),
      p95: ratio(p95.get(`off.${part}`)!, p95.get(`on.${part}`)!),
    });
  }
  return out;
}

/** Prompts at least this long count as long in the paired line (the cache's case: much to reuse). */
const LONG_PROMPT_TOKENS = 128;

/**
 * Pause by pause: the same script puts the same prompt before the model in both modes, so off − on of a
 * part cancels the document and leaves the cache (and the noise of a shared machine). Also the prefill of
 * the long prompts alone, where reuse has the most to save.
 */
function pairedLine(results: PauseResult[]): Record<string, unknown> | undefined {
  const on = new Map(results.filter((r) => r.mode === 'on').map((r) => [r.index, r]));
  const pairs = results.filter((r) => r.mode === 'off').flatMap((b) => {
    const a = on.get(b.index);
    const sa = a && split(a);
    const sb = split(b);
    return a && sa && sb ? [{ a, b, sa, sb }] : [];
  });
  if (!pairs.length) return undefined;
  const diff = (part: Part) => round(percentile(pairs.map((p) => p.sb[part] - p.sa[part]), 0.5));
  const long = pairs.filter((p) => p.b.request!.timings!.promptTokens >= LONG_PROMPT_TOKENS);
  return {
    name: 'ghost_latency_paired', vs: 'promptCache on', unit: 'ms', n: pairs.length,
    samePromptTokens: pairs.filter((p) => p.a.request!.timings!.promptTokens === p.b.request!.timings!.promptTokens).length,
    offMinusOnP50: Object.fromEntries(PARTS.map((part) => [part, diff(part)])),
    longPromptTokens: LONG_PROMPT_TOKENS, longPromptN: long.length,
    longPromptPrefillP50: { on: round(percentile(long.map((p) => p.sa.prefill), 0.5)), off: round(percentile(long.map((p) => p.sb.prefill), 0.5)) },
  };
}
