// The statistics page's content, without an editor: the figures a user reads (tok/s, latency, prompt cache
// hit rate, KV blocks, memory, the server's share), the latency chart's SVG path, and a page that runs only
// its own nonce'd inline script.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import type { ServiceStats } from '../../src/completion/service';
import type { EngineStats } from '../../src/host/engine/protocol';
import { makeNonce, statsPageHtml } from '../../src/ui/statsHtml';
import { latencySample, niceCeil, StatsHistory, statsViewModel, svgPath, type StatsSnapshot, type StatsViewModel } from '../../src/ui/statsModel';

const editor: ServiceStats = {
  requests: 40, served: { model: 20, cache: 6, typedAlong: 4 }, cancelled: 10, empty: 2, errors: 1, debounceMs: 150, latencyMsP50: 210, latencyMsP95: 480,
};

const engine: EngineStats = {
  model: {
    name: 'qwen2.5-coder-0.5b', architecture: 'qwen2', weightBytes: 531 * 2 ** 20, contextTokens: 4096, template: 'qwen', templateReason: 'metadata',
    adapter: 'llvmpipe', isSoftwareAdapter: true,
  } as EngineStats['model'],
  requests: 22, cancelled: 2, generatedTokens: 900, promptTokens: 5000, decodeTokensPerS: 12.46, prefillTokensPerS: 301.2,
  latencyMsP50: 180, latencyMsP95: 420, kvBlocksUsed: 3, kvBlocksTotal: 16,
  prefill: { passBudgetMs: 500, passesInFlight: 2, passTokens: 32 },
  promptCache: {
    documents: 2, requests: 20, reusedTokens: 3000, prefilledTokens: 1000, tokenHitRate: 0.75,
    blocksUsed: 3, blocksCached: 5, blocksFree: 8, blocksTotal: 16, evictions: 2, documentsDropped: 1,
  },
  rssBytes: 512 * 2 ** 20,
  heapUsedBytes: 40 * 2 ** 20,
  gpuBuffers: { buffers: 214, bytes: 620 * 2 ** 20 },
};

function rows(view: StatsViewModel, section: string): Record<string, string> {
  const s = view.sections.find((x) => x.title === section);
  assert.ok(s, `a ${section} section`);
  return Object.fromEntries(s.rows.map((r) => [r.label, r.value]));
}

function snap(o: Partial<StatsSnapshot> = {}): StatsSnapshot {
  return { atMs: 0, editor, engine, engineRestarts: 1, remote: undefined, ...o };
}

test('the engine section shows speed, latency, prompt cache reuse, KV blocks and memory as a user reads them', () => {
  const history = new StatsHistory(60);
  const s = snap();
  history.push(latencySample(s));
  const view = statsViewModel(s, history, 2000);
  assert.deepEqual(view.sections.map((x) => x.title), ['Editor', 'Engine']);
  const e = rows(view, 'Engine');
  assert.equal(e.model, 'qwen2.5-coder-0.5b (qwen2), 531 MiB, context 4096');
  assert.equal(e.adapter, 'llvmpipe (software: slow)');
  assert.equal(e.decode, '12.5 tok/s');
  assert.equal(e['latency p50 / p95'], '180 ms / 420 ms');
  assert.equal(e['prefill passes'], 'up to 32 tokens (500 ms budget), 2 in flight');
  assert.equal(e['prompt cache hit rate'], '75% of prompt tokens');
  assert.equal(e['tokens reused / prefilled'], '3000 / 1000');
  assert.equal(e['KV blocks used / cached / free'], '3 / 5 / 8 of 16 (2 evicted)');
  assert.equal(e['memory (RSS)'], '512 MiB');
  assert.equal(e['GPU buffers'], '620 MiB in 214 buffers');
  assert.equal(e.restarts, '1');
  const ed = rows(view, 'Editor');
  assert.equal(ed['from the cache / typed along'], '6 / 4 (hit rate 33%)');
  assert.equal(ed['keystroke to completion p50 / p95'], '210 ms / 480 ms');

  assert.equal(view.chart.title, 'Engine latency, sampled every 2 s');
  assert.equal(view.chart.yMaxLabel, '500 ms');
  assert.equal(view.chart.spanLabel, 'last 2 min');
  // One sample: a single point on the right edge, at 180/500 and 420/500 of the height from the bottom.
  assert.deepEqual(view.chart.series.map((x) => [x.name, x.path, x.last]), [['p50', 'M480,76.8h0', '180 ms'], ['p95', 'M480,19.2h0', '420 ms']]);
});

test('without an engine the section says so; without a prompt cache the KV blocks in use are shown', () => {
  const history = new StatsHistory(60);
  const down = snap({ engine: undefined });
  history.push(latencySample(down));
  const view = statsViewModel(down, history, 2000);
  assert.deepEqual(rows(view, 'Engine'), { state: 'not running', restarts: '1' });
  assert.deepEqual(view.chart.series.map((x) => [x.path, x.last]), [['', '–'], ['', '–']]);

  const noCache = statsViewModel(snap({ engine: { ...engine, promptCache: undefined } }), history, 2000);
  assert.equal(rows(noCache, 'Engine')['KV blocks in use'], '3 / 16');
  assert.equal(rows(noCache, 'Engine')['prompt cache hit rate'], undefined);
  assert.equal(rows(noCache, 'Engine')['draft tokens accepted'], undefined);
});

test('speculative decoding: the draft model and how many of its tokens the target accepted', () => {
  const withDraft: EngineStats = {
    ...engine,
    model: { ...engine.model!, draft: { path: '/m/d.gguf', name: 'qwen2.5-coder-0.5b-draft', weightBytes: 100 * 2 ** 20 } },
    speculative: { requests: 5, targetPasses: 40, draftedTokens: 120, acceptedTokens: 90, acceptanceRate: 0.75, tokensPerPass: 3.25, bySource: { model: 3, ngram: 2 }, draftCache: { reusedTokens: 900, prefilledTokens: 100, tokenHitRate: 0.9 } },
  };
  const history = new StatsHistory(60);
  const e = rows(statsViewModel(snap({ engine: withDraft }), history, 2000), 'Engine');
  assert.equal(e['draft model'], 'qwen2.5-coder-0.5b-draft, 100 MiB');
  assert.equal(e['speculative requests'], '5 (model 3, ngram 2)');
  assert.equal(e['draft tokens accepted'], '90 / 120 (75%)');
  assert.equal(e['tokens per target pass'], '3.25');
  assert.equal(e['draft model cache hit rate'], '90% (900 reused / 100 run)');
});

test('with a server in use its share is shown and charted (first-token latency)', () => {
  const history = new StatsHistory(60);
  const s = snap({
    remote: {
      url: 'http://127.0.0.1:8080', api: 'openai', model: 'qwen', status: 'ok', openSockets: 2,
      stats: { requests: 9, ok: 7, cancelled: 1, errors: 1, retries: 3, firstTokenMsP50: 90, firstTokenMsP95: 260, cacheReportedPromptTokens: 4000, reusedTokens: 3600 },
    },
  });
  history.push(latencySample(s));
  const view = statsViewModel(s, history, 2000);
  assert.deepEqual(view.sections.map((x) => x.title), ['Editor', 'Engine', 'Server']);
  assert.deepEqual(rows(view, 'Server'), {
    server: 'http://127.0.0.1:8080 (openai, qwen)',
    status: 'ok',
    requests: '9 (7 answered, 1 cancelled, 1 failed, 3 retries)',
    'first token p50 / p95': '90 ms / 260 ms',
    'server prompt cache': '90% of prompt tokens reused (3600 / 4000)',
    'open connections': '2',
  });
  assert.equal(view.chart.title, 'Server first-token latency, sampled every 2 s');
  assert.deepEqual(view.chart.series.map((x) => x.last), ['90 ms', '260 ms']);
});

test('the chart: newest value on the right, NaN breaks the line, values clamp to the top, old samples fall off', () => {
  const box = { widthPx: 30, heightPx: 50, yMax: 100, slots: 4 };
  assert.equal(svgPath([0, 50, 100, 200], box), 'M0,50L10,25L20,0L30,0');
  assert.equal(svgPath([10, NaN, 30, 40], box), 'M0,45h0M20,35L30,30');
  assert.equal(svgPath([25], box), 'M30,37.5h0');
  assert.equal(svgPath([], box), '');
  assert.deepEqual([0, 0.3, 3, 120, 1000, 1001].map(niceCeil), [1, 0.5, 5, 200, 1000, 2000]);

  const history = new StatsHistory(3);
  for (let i = 1; i <= 5; i++) history.push({ atMs: i, p50Ms: i * 10, p95Ms: i * 20 });
  assert.deepEqual(history.all.map((s) => s.atMs), [3, 4, 5]);
  // An engine with no finished request yet charts nothing rather than a 0 ms latency.
  assert.ok(Number.isNaN(latencySample(snap({ engine: { ...engine, requests: 2, cancelled: 2 } })).p50Ms));
});

test('the page allows only its own nonce\'d inline script and style, and loads nothing', () => {
  const nonce = makeNonce();
  assert.notEqual(nonce, makeNonce());
  const html = statsPageHtml(nonce);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  assert.equal(csp, `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`);
  const tags = [...html.matchAll(/<(script|style)\b[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(tags, [`<style nonce="${nonce}">`, `<script nonce="${nonce}">`]);
  assert.doesNotMatch(html, /\bsrc=|href=|@import|url\(/);
  assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|eval\(/);
  // Every element the script looks up is on the page.
  for (const id of ['chart', 'chart-mid', 'chart-title', 'chart-top', 'chart-span', 'sections', 'series-p50', 'series-p95', 'legend-p50', 'legend-p95']) {
    assert.match(html, new RegExp(`id="${id}"`));
  }
});

/** Just enough DOM for the page's script: elements with attributes, text, children and table rows. */
class FakeElement {
  readonly attrs: Record<string, string> = {};
  readonly children: FakeElement[] = [];
  textContent = '';
  constructor(readonly tag: string) {}
  setAttribute(k: string, v: string) { this.attrs[k] = v; }
  replaceChildren() { this.children.length = 0; }
  append(...els: FakeElement[]) { this.children.push(...els); }
  insertRow() { const r = new FakeElement('tr'); this.children.push(r); return r; }
  insertCell() { const c = new FakeElement('td'); this.children.push(c); return c; }
}

test('the page\'s script says it is ready, then draws each view it is sent: chart paths, legend, tables', () => {
  const html = statsPageHtml('n0nce');
  const script = /<script nonce="n0nce">([\s\S]*?)<\/script>/.exec(html)![1];
  const byId = new Map<string, FakeElement>();
  const posted: unknown[] = [];
  let onMessage: ((e: { data: unknown }) => void) | undefined;
  runInNewContext(script, {
    acquireVsCodeApi: () => ({ postMessage: (m: unknown) => posted.push(m) }),
    document: {
      getElementById: (id: string) => byId.get(id) ?? byId.set(id, new FakeElement(id)).get(id),
      createElement: (tag: string) => new FakeElement(tag),
    },
    window: { addEventListener: (type: string, f: typeof onMessage) => type === 'message' && (onMessage = f) },
  });
  assert.deepEqual(JSON.parse(JSON.stringify(posted)), [{ type: 'ready' }]); // objects from the vm's realm

  const history = new StatsHistory(60);
  for (const p50 of [100, 150]) {
    const s = snap({ engine: { ...engine, latencyMsP50: p50 } });
    history.push(latencySample(s));
    onMessage!({ data: { type: 'view', view: statsViewModel(s, history, 2000) } });
  }
  assert.equal(byId.get('series-p50')!.attrs.d, 'M471.9,96L480,84');
  assert.equal(byId.get('legend-p50')!.textContent, 'p50 150 ms');
  assert.equal(byId.get('chart-top')!.textContent, '500 ms');
  assert.equal(byId.get('chart')!.attrs.viewBox, '-3 -3 486 126');
  const sections = byId.get('sections')!.children;
  assert.deepEqual(sections.filter((e) => e.tag === 'h2').map((e) => e.textContent), ['Editor', 'Engine'], 'redrawn, not appended twice');
  const engineTable = sections[3];
  const decode = engineTable.children.find((tr) => tr.children[0].textContent === 'decode');
  assert.equal(decode?.children[1].textContent, '12.5 tok/s');
});
