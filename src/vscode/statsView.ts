// "Tandem: Show Statistics": a webview panel (one per window; the command reveals it) that polls the
// editor side, the engine and the server every POLL_MS while it is visible, keeps the latency history
// and posts the view model (src/ui/statsModel.ts) to the page (src/ui/statsHtml.ts). Hidden: no polling.

import * as vscode from 'vscode';
import { makeNonce, statsPageHtml } from '../ui/statsHtml';
import { latencySample, StatsHistory, statsViewModel, type RemoteSnapshot, type StatsSnapshot } from '../ui/statsModel';
import type { TandemController } from './controller';

const POLL_MS = 2_000;

export class StatsView implements vscode.Disposable {
  private static current: StatsView | undefined;
  private readonly history = new StatsHistory(60);
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  /** Opens the panel, or brings the open one to the front. */
  static show(c: TandemController): void {
    if (StatsView.current) return StatsView.current.panel.reveal(undefined, true);
    const panel = vscode.window.createWebviewPanel('tandem.statistics', 'Tandem Statistics', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [], // the page loads nothing
    });
    StatsView.current = new StatsView(panel, c);
  }

  /** Closes the open panel, if any (extension deactivation). */
  static closeCurrent(): void {
    StatsView.current?.dispose();
  }

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly c: TandemController) {
    panel.webview.html = statsPageHtml(makeNonce());
    this.subscriptions.push(
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => this.updateTimer()),
      panel.webview.onDidReceiveMessage((m: { type?: string }) => {
        if (m?.type === 'ready') void this.poll();
      }),
    );
    this.updateTimer();
  }

  private updateTimer(): void {
    if (this.panel.visible && !this.timer) {
      this.timer = setInterval(() => void this.poll(), POLL_MS);
      void this.poll();
    } else if (!this.panel.visible && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow engine answer: skip this tick rather than pile up requests
    this.polling = true;
    try {
      const snapshot = await this.snapshot();
      this.history.push(latencySample(snapshot));
      await this.panel.webview.postMessage({ type: 'view', view: statsViewModel(snapshot, this.history, POLL_MS) });
    } catch (e) {
      this.c.log.debug(`statistics: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private async snapshot(): Promise<StatsSnapshot> {
    const c = this.c;
    const engine = c.engine.state.kind === 'ready' ? await c.engine.stats().catch(() => undefined) : undefined;
    return { atMs: Date.now(), editor: c.service.stats(), engine, engineRestarts: c.engine.restarts, remote: remoteSnapshot(c) };
  }

  dispose(): void {
    if (StatsView.current === this) StatsView.current = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const d of this.subscriptions) d.dispose();
    this.panel.dispose();
  }
}

function remoteSnapshot(c: TandemController): RemoteSnapshot | undefined {
  const r = c.backends.active;
  if (!r) return undefined;
  return {
    url: r.o.url,
    api: r.o.api,
    model: r.o.model || undefined,
    status: r.status.kind === 'error' ? `error: ${r.status.error.message}` : r.status.kind,
    stats: r.stats(),
    openSockets: r.openSockets,
  };
}
