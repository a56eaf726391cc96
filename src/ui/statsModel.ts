// What "Tandem: Show Statistics" shows, without an editor: the editor side's, the engine's and the
// server's statistics → sections of label/value rows, and a chart of the latency over the last samples
// (an SVG path per series). src/vscode/statsView.ts polls, keeps a StatsHistory and posts the view model
// to its webview; everything here is a pure function of its input, so it is unit-tested.
//
// The chart plots the p50/p95 latency the engine (or the server) reports at each poll: the engine reports
// percentiles over its last 500 requests, not each request, so the line moves as requests come in.

import type { ServiceStats } from '../completion/service';
import type { EngineStats } from '../host/engine/protocol';
import type { RemoteStats } from '../remote/backend';

export interface RemoteSnapshot {
  url: string;
  api: string;
  model: string | undefined;
  /** "ok", "connecting", "error: <message>" … */
  status: string;
  stats: RemoteStats;
  openSockets: number;
}

export interface StatsSnapshot {
  atMs: number;
  editor: ServiceStats;
  /** undefined: the engine is not running (or did not answer). */
  engine: EngineStats | undefined;
  engineRestarts: number;
  /** The server in use, when completions come from one. */
  remote: RemoteSnapshot | undefined;
}

export interface StatsRow {
  label: string;
  value: string;
}

export interface StatsSection {
  title: string;
  rows: StatsRow[];
}

export interface ChartSeries {
  name: string;
  /** SVG path data in the chart's pixel box; "" when there is nothing to draw. */
  path: string;
  /** The newest value, formatted ("183 ms"). */
  last: string;
}

export interface StatsChart {
  title: string;
  widthPx: number;
  heightPx: number;
  /** The top of the y axis, formatted ("500 ms"); the bottom is 0. */
  yMaxLabel: string;
  /** "last 2 min" */
  spanLabel: string;
  series: ChartSeries[];
}

export interface StatsViewModel {
  sections: StatsSection[];
  chart: StatsChart;
}

/** One poll's latency figures; NaN where there was none (engine down, no requests yet). */
export interface LatencySample {
  atMs: number;
  p50Ms: number;
  p95Ms: number;
}

/** The last `capacity` samples, oldest first. */
export class StatsHistory {
  private readonly samples: LatencySample[] = [];
  constructor(readonly capacity = 60) {}

  push(s: LatencySample): void {
    this.samples.push(s);
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  get all(): readonly LatencySample[] {
    return this.samples;
  }
}

/** The latency to chart for a snapshot: the server's first-token latency when it serves, else the engine's. */
export function latencySample(s: StatsSnapshot): LatencySample {
  if (s.remote) return { atMs: s.atMs, p50Ms: orNaN(s.remote.stats.ok, s.remote.stats.firstTokenMsP50), p95Ms: orNaN(s.remote.stats.ok, s.remote.stats.firstTokenMsP95) };
  const e = s.engine;
  if (!e) return { atMs: s.atMs, p50Ms: NaN, p95Ms: NaN };
  const finished = e.requests - e.cancelled;
  return { atMs: s.atMs, p50Ms: orNaN(finished, e.latencyMsP50), p95Ms: orNaN(finished, e.latencyMsP95) };
}

const orNaN = (count: number, v: number) => (count > 0 ? v : NaN);

/** The smallest 1, 2 or 5 × 10^k at or above v (a round top for the y axis); 1 for v ≤ 0. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

/**
 * SVG path data for `values` in a widthPx × heightPx box: `slots` x positions, the newest value on the
 * right edge, y = 0 at the bottom and yMax at the top (values above are clamped). A NaN breaks the line:
 * the next value starts a new subpath ("M"). A lone point (the first poll, or one between gaps) gets a
 * zero-length segment ("h0"), which the page's round line caps draw as a dot. Coordinates are rounded to 0.1 px.
 */
export function svgPath(values: readonly number[], o: { widthPx: number; heightPx: number; yMax: number; slots: number }): string {
  const step = o.slots > 1 ? o.widthPx / (o.slots - 1) : 0;
  const r = (n: number) => String(Math.round(n * 10) / 10);
  const subpaths: string[][] = [];
  let current: string[] | undefined;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      current = undefined;
      return;
    }
    const x = o.widthPx - (values.length - 1 - i) * step;
    const y = o.heightPx - (Math.min(Math.max(v, 0), o.yMax) / o.yMax) * o.heightPx;
    if (!current) subpaths.push((current = []));
    current.push(`${r(x)},${r(y)}`);
  });
  return subpaths.map((p) => `M${p.join('L')}${p.length === 1 ? 'h0' : ''}`).join('');
}

const CHART = { widthPx: 480, heightPx: 120 };

export function latencyChart(history: StatsHistory, pollMs: number, from: string): StatsChart {
  const samples = history.all;
  const p50 = samples.map((s) => s.p50Ms);
  const p95 = samples.map((s) => s.p95Ms);
  const yMax = niceCeil(Math.max(0, ...p95.filter(Number.isFinite), ...p50.filter(Number.isFinite)));
  const box = { ...CHART, yMax, slots: history.capacity };
  const last = (xs: number[]) => (xs.length && Number.isFinite(xs[xs.length - 1]) ? ms(xs[xs.length - 1]) : '–');
  return {
    title: `${from} latency, sampled every ${pollMs / 1000} s`,
    ...CHART,
    yMaxLabel: ms(yMax),
    spanLabel: `last ${spanText((history.capacity * pollMs) / 1000)}`,
    series: [
      { name: 'p50', path: svgPath(p50, box), last: last(p50) },
      { name: 'p95', path: svgPath(p95, box), last: last(p95) },
    ],
  };
}

function spanText(s: number): string {
  return s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
}

const ms = (v: number) => `${v.toFixed(0)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 1 : 0)} MiB`;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

function editorSection(c: ServiceStats): StatsSection {
  const served = c.served.model + c.served.cache + c.served.typedAlong;
  const hit = served ? (c.served.cache + c.served.typedAlong) / served : 0;
  return {
    title: 'Editor',
    rows: [
      { label: 'requests', value: String(c.requests) },
      { label: 'from the model', value: `${c.served.model} (${c.empty} empty)` },
      { label: 'from the cache / typed along', value: `${c.served.cache} / ${c.served.typedAlong} (hit rate ${pct(hit)})` },
      { label: 'dropped by debounce or cancelled', value: String(c.cancelled) },
      { label: 'errors', value: String(c.errors) },
      { label: 'debounce now', value: ms(c.debounceMs) },
      { label: 'keystroke to completion p50 / p95', value: `${ms(c.latencyMsP50)} / ${ms(c.latencyMsP95)}` },
    ],
  };
}

function engineSection(e: EngineStats | undefined, restarts: number): StatsSection {
  if (!e) return { title: 'Engine', rows: [{ label: 'state', value: 'not running' }, { label: 'restarts', value: String(restarts) }] };
  const m = e.model;
  const p = e.promptCache;
  const rows: StatsRow[] = m
    ? [
      { label: 'model', value: `${m.name} (${m.architecture}), ${mib(m.weightBytes)}, context ${m.contextTokens}` },
      { label: 'template', value: `${m.template} (${m.templateReason})` },
      { label: 'adapter', value: `${m.adapter}${m.isSoftwareAdapter ? ' (software: slow)' : ''}` },
    ]
    : [{ label: 'model', value: 'none loaded' }];
  rows.push(
    { label: 'requests', value: `${e.requests} (${e.cancelled} cancelled)` },
    { label: 'decode', value: `${e.decodeTokensPerS.toFixed(1)} tok/s` },
    { label: 'prefill', value: `${e.prefillTokensPerS.toFixed(1)} tok/s` },
    { label: 'latency p50 / p95', value: `${ms(e.latencyMsP50)} / ${ms(e.latencyMsP95)}` },
  );
  const pl = e.prefill;
  if (pl) {
    const budget = pl.passBudgetMs > 0 ? `${pl.passBudgetMs} ms budget` : 'no time budget';
    rows.push({ label: 'prefill passes', value: `up to ${pl.passTokens} tokens (${budget}), ${pl.passesInFlight} in flight` });
  }
  if (p) {
    rows.push(
      { label: 'prompt cache hit rate', value: `${pct(p.tokenHitRate)} of prompt tokens` },
      { label: 'tokens reused / prefilled', value: `${p.reusedTokens} / ${p.prefilledTokens}` },
      { label: 'KV blocks used / cached / free', value: `${p.blocksUsed} / ${p.blocksCached} / ${p.blocksFree} of ${p.blocksTotal} (${p.evictions} evicted)` },
      { label: 'documents cached', value: `${p.documents} (${p.documentsDropped} dropped for memory)` },
    );
  } else {
    rows.push({ label: 'KV blocks in use', value: `${e.kvBlocksUsed} / ${e.kvBlocksTotal}` });
  }
  if (m?.draft) rows.push({ label: 'draft model', value: `${m.draft.name}, ${mib(m.draft.weightBytes)}` });
  const sp = e.speculative;
  if (sp) {
    rows.push(
      { label: 'speculative requests', value: `${sp.requests} (${Object.entries(sp.bySource).map(([k, v]) => `${k} ${v}`).join(', ')})` },
      { label: 'draft tokens accepted', value: `${sp.acceptedTokens} / ${sp.draftedTokens} (${pct(sp.acceptanceRate)})` },
      { label: 'tokens per target pass', value: sp.tokensPerPass.toFixed(2) },
    );
    const dc = sp.draftCache;
    if (dc) rows.push({ label: 'draft model cache hit rate', value: `${pct(dc.tokenHitRate)} (${dc.reusedTokens} reused / ${dc.prefilledTokens} run)` });
  }
  rows.push(
    { label: 'memory (RSS)', value: mib(e.rssBytes) },
    { label: 'GPU buffers', value: `${mib(e.gpuBuffers.bytes)} in ${e.gpuBuffers.buffers} buffers` },
    { label: 'restarts', value: String(restarts) },
  );
  return { title: 'Engine', rows };
}

function remoteSection(r: RemoteSnapshot): StatsSection {
  const st = r.stats;
  return {
    title: 'Server',
    rows: [
      { label: 'server', value: `${r.url} (${r.api}${r.model ? `, ${r.model}` : ''})` },
      { label: 'status', value: r.status },
      { label: 'requests', value: `${st.requests} (${st.ok} answered, ${st.cancelled} cancelled, ${st.errors} failed, ${st.retries} retries)` },
      { label: 'first token p50 / p95', value: `${ms(st.firstTokenMsP50)} / ${ms(st.firstTokenMsP95)}` },
      {
        label: 'server prompt cache',
        value: st.cacheReportedPromptTokens ? `${pct(st.reusedTokens / st.cacheReportedPromptTokens)} of prompt tokens reused (${st.reusedTokens} / ${st.cacheReportedPromptTokens})` : 'not reported by the server',
      },
      { label: 'open connections', value: String(r.openSockets) },
    ],
  };
}

/** The page's content for one snapshot; `history` already holds this snapshot's latencySample. */
export function statsViewModel(s: StatsSnapshot, history: StatsHistory, pollMs: number): StatsViewModel {
  const sections = [editorSection(s.editor), engineSection(s.engine, s.engineRestarts)];
  if (s.remote) sections.push(remoteSection(s.remote));
  return { sections, chart: latencyChart(history, pollMs, s.remote ? 'Server first-token' : 'Engine') };
}
