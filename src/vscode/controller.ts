// The extension's objects and their life: the engine client, the completion service, the provider, the
// status bar and the log. Reacts to setting changes (no reload needed) and to the engine's state changes
// (errors shown with their fix, never silently dropped).

import * as vscode from 'vscode';
import { CompletionService } from '../completion/service';
import { EngineClient, EngineCrashedError, EngineError, type EngineState } from '../host/engine/client';
import { TandemInlineProvider } from './provider';
import { enabledFor, loadKey, readSettings, serviceSettings, type TandemSettings } from './settings';
import { StatusBar } from './statusBar';

export class TandemController implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineClient;
  readonly service: CompletionService;
  readonly status: StatusBar;
  readonly provider: TandemInlineProvider;
  private settings: TandemSettings;
  private loadedKey = '';
  private nodePath: string;
  private readonly subscriptions: vscode.Disposable[] = [];
  private lastErrorShownMs = 0;

  constructor(readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Tandem', { log: true });
    this.settings = readSettings();
    this.nodePath = this.settings.nodePath;
    this.engine = this.makeEngine();
    this.service = new CompletionService(this.engine, serviceSettings(this.settings));
    this.status = new StatusBar();
    this.provider = new TandemInlineProvider(this.service, {
      settings: () => this.settings,
      ready: () => this.engine.state.kind === 'ready' && !!this.engine.modelInfo,
      setThinking: (on) => this.status.setActivity({ thinking: on }),
      log: (m) => this.log.debug(m),
      onError: (e) => this.reportError(e),
    });
    this.subscriptions.push(
      this.log,
      this.status,
      this.provider,
      vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, this.provider),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tandem')) void this.onSettingsChanged();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.updatePaused()),
    );
    this.updatePaused();
    void this.ensureModel();
  }

  private makeEngine(): EngineClient {
    const engine = new EngineClient({
      enginePath: this.context.asAbsolutePath('dist/engine.js'),
      nodePath: this.nodePath || undefined,
      log: (level, m) => this.log[level](m),
    });
    engine.onState((s) => this.onEngineState(s));
    return engine;
  }

  get currentSettings(): TandemSettings {
    return this.settings;
  }

  private onEngineState(s: EngineState): void {
    this.status.setEngine(s);
    if (s.kind === 'error') this.showError(s.error.message, s.error.hint);
    if (s.kind === 'crashed') this.showError(`The Tandem engine stopped (${s.reason}); restarting.`, undefined, true);
  }

  private updatePaused(): void {
    const lang = vscode.window.activeTextEditor?.document.languageId;
    this.status.setActivity({ paused: !this.settings.enable || (lang !== undefined && !enabledFor(this.settings, lang)), noModel: !this.settings.model });
  }

  private async onSettingsChanged(): Promise<void> {
    const before = this.settings;
    this.settings = readSettings();
    this.log.info('settings changed');
    this.service.configure(serviceSettings(this.settings));
    this.updatePaused();
    if (this.settings.nodePath !== before.nodePath) {
      this.nodePath = this.settings.nodePath;
      this.log.info('tandem.nodePath changed: restarting the engine on the new runtime');
      await this.restartEngine();
      return;
    }
    if (loadKey(this.settings) !== this.loadedKey) await this.ensureModel();
  }

  /** Loads the configured model if it is not the one loaded. */
  async ensureModel(): Promise<void> {
    const key = loadKey(this.settings);
    if (!this.settings.model) {
      this.loadedKey = key;
      this.log.info('no model selected (tandem.model is empty)');
      this.status.setEngine(this.engine.state.kind === 'stopped' ? { kind: 'ready', model: undefined } : this.engine.state);
      return;
    }
    this.loadedKey = key;
    try {
      const s = this.settings;
      await this.engine.load({
        modelPath: s.model,
        maxContextTokens: s.maxContextTokens,
        kvBudgetBytes: s.memoryBudgetMB > 0 ? s.memoryBudgetMB * 2 ** 20 : undefined,
      });
      this.service.clearCache();
    } catch (e) {
      this.loadedKey = '';
      this.reportError(e);
    }
  }

  async restartEngine(): Promise<void> {
    this.log.info('restarting the engine');
    if (this.engine.state.kind === 'stopped' || !this.settings.model) {
      await this.ensureModel();
      return;
    }
    try {
      await this.engine.restart();
      this.service.clearCache();
    } catch (e) {
      this.reportError(e);
    }
  }

  reportError(e: unknown): void {
    if (e instanceof EngineError) {
      if (e.code === 'CANCELLED') return;
      this.log.error(`${e.code}: ${e.message}`);
      this.showError(e.message, e.hint);
    } else if (e instanceof EngineCrashedError) {
      this.log.warn(e.message); // the state change shows it
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      this.log.error(err.stack ?? err.message);
      this.showError(err.message);
    }
  }

  /** A notification with the fix and the actions that apply; at most one every 10 s (no storm while typing). */
  private showError(message: string, hint?: string, quiet = false): void {
    const now = Date.now();
    if (now - this.lastErrorShownMs < 10_000) return;
    this.lastErrorShownMs = now;
    const actions = ['Show Logs', 'Select Model', 'Restart Engine'];
    const show = quiet ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    void show(`Tandem: ${message}${hint ? ` ${hint}` : ''}`, ...actions).then((a) => {
      if (a === 'Show Logs') this.log.show();
      else if (a === 'Select Model') void vscode.commands.executeCommand('tandem.selectModel');
      else if (a === 'Restart Engine') void vscode.commands.executeCommand('tandem.restartEngine');
    });
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    void this.engine.dispose();
  }
}
