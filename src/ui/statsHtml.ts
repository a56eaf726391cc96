// The statistics webview's page: one inline script and one inline style, both allowed only by a per-page
// nonce (Content-Security-Policy default-src 'none': no external scripts, styles, images or fetches). The
// script draws each StatsViewModel it receives by postMessage ({type: 'view', view}); it writes text with
// textContent and SVG paths with setAttribute, never HTML, so a model or server name cannot inject markup.
// It posts {type: 'ready'} once listening, so the first figures come without waiting for the next poll.

import { randomBytes } from 'node:crypto';

export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

export function statsPageHtml(nonce: string): string {
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Tandem Statistics</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px 16px; }
  h2 { font-size: 1.1em; margin: 18px 0 6px; }
  table { border-collapse: collapse; }
  td { padding: 2px 16px 2px 0; vertical-align: top; }
  td:first-child { color: var(--vscode-descriptionForeground); }
  .chart svg { display: block; width: 100%; max-width: 640px; background: var(--vscode-editorWidget-background); border: 1px solid var(--vscode-widget-border, transparent); }
  .chart path, .chart line { vector-effect: non-scaling-stroke; }
  .chart path { fill: none; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
  .chart .p50 { stroke: var(--vscode-charts-blue, #3794ff); }
  .chart .p95 { stroke: var(--vscode-charts-orange, #d18616); }
  .chart .grid { stroke: var(--vscode-descriptionForeground); stroke-opacity: 0.25; stroke-dasharray: 3 3; }
  .legend span { margin-right: 16px; }
  .legend .p50::before, .legend .p95::before { content: "\\25A0 "; }
  .legend .p50::before { color: var(--vscode-charts-blue, #3794ff); }
  .legend .p95::before { color: var(--vscode-charts-orange, #d18616); }
  .axis { color: var(--vscode-descriptionForeground); font-size: 0.85em; }
</style>
</head>
<body>
<div class="chart">
  <h2 id="chart-title">Latency</h2>
  <div class="axis" id="chart-top"></div>
  <svg id="chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="latency chart" preserveAspectRatio="none">
    <line class="grid" id="chart-mid" x1="0" x2="0" y1="0" y2="0"></line>
    <path class="p50" id="series-p50" d=""></path>
    <path class="p95" id="series-p95" d=""></path>
  </svg>
  <div class="axis" id="chart-span"></div>
  <div class="legend"><span class="p50" id="legend-p50">p50</span><span class="p95" id="legend-p95">p95</span></div>
</div>
<div id="sections"></div>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const byId = (id) => document.getElementById(id);
  function render(view) {
    const c = view.chart;
    const svg = byId('chart');
    // As wide as the panel (the viewBox stretches; strokes do not scale), c.heightPx high.
    svg.setAttribute('height', String(c.heightPx));
    // 3 px of margin: the round caps of points on the edges stay whole.
    svg.setAttribute('viewBox', '-3 -3 ' + (c.widthPx + 6) + ' ' + (c.heightPx + 6));
    const mid = byId('chart-mid');
    mid.setAttribute('x2', String(c.widthPx));
    mid.setAttribute('y1', String(c.heightPx / 2));
    mid.setAttribute('y2', String(c.heightPx / 2));
    byId('chart-title').textContent = c.title;
    byId('chart-top').textContent = c.yMaxLabel;
    byId('chart-span').textContent = '0 ms · ' + c.spanLabel;
    for (const s of c.series) {
      byId('series-' + s.name).setAttribute('d', s.path);
      byId('legend-' + s.name).textContent = s.name + ' ' + s.last;
    }
    const root = byId('sections');
    root.replaceChildren();
    for (const section of view.sections) {
      const h = document.createElement('h2');
      h.textContent = section.title;
      const table = document.createElement('table');
      for (const row of section.rows) {
        const tr = table.insertRow();
        tr.insertCell().textContent = row.label;
        tr.insertCell().textContent = row.value;
      }
      root.append(h, table);
    }
  }
  window.addEventListener('message', (e) => {
    if (e.data && e.data.type === 'view') render(e.data.view);
  });
  vscode.postMessage({ type: 'ready' });
})();
</script>
</body>
</html>`;
}
