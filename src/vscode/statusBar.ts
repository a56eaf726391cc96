// The status bar item: what the engine is doing (loading with progress, ready, thinking, paused, error),
// with the fix in the tooltip; a click opens the menu of Tandem commands.

import * as vscode from 'vscode';
import type { EngineState, PrefillState } from '../host/engine/client';
import type { RemoteStatus } from '../remote/backend';
import { prefillStatus, speedNote } from '../ui/speed';

/** prefill: a long prompt prefill of the running request (shown while thinking). */
export type Activity = { paused: boolean; thinking: boolean; noModel: boolean; prefill?: PrefillState };

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private engine: EngineState = { kind: 'stopped' };
  private activity: Activity = { paused: false, thinking: false, noModel: false };
  /** Set while completions come from a server (tandem.backend = remote): it, not the engine, is shown. */
  private remote: RemoteStatus | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem('tandem.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Tandem';
    this.item.command = 'tandem.showMenu';
    this.render();
    this.item.show();
  }

  setEngine(s: EngineState): void {
    this.engine = s;
    this.render();
  }

  setRemote(s: RemoteStatus | undefined): void {
    this.remote = s;
    this.render();
  }

  setActivity(a: Partial<Activity>): void {
    this.activity = { ...this.activity, ...a };
    this.render();
  }

  /** The text shown, for tests and logs. */
  get text(): string {
    return this.item.text;
  }

  private render(): void {
    if (this.remote) return this.renderRemote(this.remote);
    const s = this.engine;
    const a = this.activity;
    let icon = '$(sparkle)';
    let tip = 'Tandem: ready';
    let bg: vscode.ThemeColor | undefined;
    if (s.kind === 'no-runtime') {
      icon = '$(error)';
      tip = `Tandem: ${s.message}. ${s.hint}\n\n${s.reasons.map((r) => `- ${r}`).join('\n')}\n\nClick to choose Node.js or a remote server.`;
      bg = new vscode.ThemeColor('statusBarItem.errorBackground');
      this.item.text = `${icon} Tandem: no Node.js runtime`;
    } else if (s.kind === 'downloading-runtime') {
      const p = s.progress;
      const pct = p.phase === 'download' && p.bytesTotal ? ` ${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%` : '';
      icon = '$(cloud-download)';
      tip = `Tandem: downloading Node.js for the engine (${p.phase})${pct}`;
      this.item.text = `${icon} Tandem${pct}`;
    } else if (s.kind === 'error') {
      icon = '$(error)';
      tip = `Tandem: ${s.error.message}${s.error.hint ? `\n\n${s.error.hint}` : ''}`;
      bg = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (s.kind === 'crashed') {
      icon = '$(warning)';
      tip = `Tandem: the engine stopped (${s.reason}); restarting in ${Math.round(s.restartInMs / 1000)} s`;
      bg = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else if (s.kind === 'loading') {
      const pct = s.totalBytes ? ` ${Math.floor((100 * s.loadedBytes) / s.totalBytes)}%` : '';
      icon = `$(loading~spin)`;
      tip = `Tandem: loading the model${pct}`;
      this.item.text = `${icon} Tandem${pct}`;
    } else if (s.kind === 'starting' || s.kind === 'stopped') {
      icon = '$(loading~spin)';
      tip = 'Tandem: starting the engine';
    } else if (a.noModel) {
      icon = '$(circle-large-outline)';
      tip = 'Tandem: no model selected. Click, then "Select Model".';
    } else if (a.paused) {
      icon = '$(circle-slash)';
      tip = 'Tandem: paused (disabled globally or for this language)';
    } else if (a.thinking) {
      icon = '$(sync~spin)';
      tip = 'Tandem: thinking';
    } else if (s.kind === 'ready' && s.model) {
      tip = `Tandem: ready. ${s.model.name} (${s.model.template}) on ${s.model.adapter}` + speedNote(s.model);
    }
    let suffix = '';
    if (a.thinking && a.prefill && s.kind === 'ready' && !a.paused && !a.noModel) {
      const p = prefillStatus(a.prefill);
      suffix = ` ${p.percent}`;
      tip = p.tip;
    }
    if (s.kind !== 'loading' && s.kind !== 'no-runtime' && s.kind !== 'downloading-runtime') this.item.text = `${icon} Tandem${suffix}`;
    this.item.tooltip = tip;
    this.item.backgroundColor = bg;
    this.item.accessibilityInformation = { label: tip };
  }

  private renderRemote(r: RemoteStatus): void {
    const a = this.activity;
    const host = (() => { try { return new URL(r.url).host; } catch { return r.url; } })();
    let icon = '$(cloud)';
    let tip = `Tandem: completions from ${r.url}`;
    let bg: vscode.ThemeColor | undefined;
    if (r.kind === 'error') {
      icon = '$(error)';
      tip = `Tandem: ${r.error.message}\n\n${r.error.hint}`;
      bg = new vscode.ThemeColor(r.error.code === 'REMOTE_RATE_LIMITED' ? 'statusBarItem.warningBackground' : 'statusBarItem.errorBackground');
    } else if (r.kind === 'slow') {
      icon = '$(watch)';
      tip = `Tandem: ${r.url} sent no token within the time budget (${Math.round(r.waitedMs)} ms): the server is busy or slow.`;
      bg = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else if (a.paused) {
      icon = '$(circle-slash)';
      tip = 'Tandem: paused (disabled globally or for this language)';
    } else if (a.thinking) {
      icon = '$(sync~spin)';
      tip = `Tandem: waiting for ${r.url}`;
    } else if (r.kind === 'ok') {
      tip = `Tandem: ready. ${r.url}, first token in ${Math.round(r.latencyMs)} ms`;
    }
    this.item.text = `${icon} Tandem: ${host}`;
    this.item.tooltip = tip;
    this.item.backgroundColor = bg;
    this.item.accessibilityInformation = { label: tip };
  }

  dispose(): void {
    this.item.dispose();
  }
}
