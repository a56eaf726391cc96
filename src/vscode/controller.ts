// The extension's objects and their life: the engine client, the completion service, the provider, the
// status bar and the log. Reacts to setting changes (no reload needed) and to the engine's state changes
// (errors shown with their fix, never silently dropped).

import * as vscode from 'vscode';
import { CompletionService } from '../completion/service';
import { EngineClient, EngineCrashedError, EngineError, type EngineRuntimeOptions, type EngineState } from '../host/engine/client';
import { RequestTracer } from '../completion/trace';
import { NoNodeRuntimeError } from '../host/runtime';
import { RemoteError } from '../remote/errors';
import { TandemInlineProvider } from './provider';
import { BackendChoice } from './remote';
import { draftModelToLoad, enabledFor, loadKey, prefillLimits, readSettings, runtimeKey, serviceSettings, wantsLocalModel, type TandemSettings } from './settings';
import { StatusBar } from './statusBar';
import type { ModelInfo } from '../host/engine/protocol';
import { slowModelWarning } from '../ui/speed';

export class TandemController implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineClient;
  /** tandem.backend: the local engine or an inference server; the service talks to its switch. */
  readonly backends: BackendChoice;
  readonly service: CompletionService;
  readonly status: StatusBar;
  /** The slow-model warning was shown in this window. */
  private slowWarned = false;
  readonly provider: TandemInlineProvider;
  private settings: TandemSettings;
  /** One JSON line of timings per request when TANDEM_TRACE_FILE is set (the ghost-latency benchmark). */
  private readonly tracer = RequestTracer.open(process.env.TANDEM_TRACE_FILE);
  private loadedKey = '';
  private readonly subscriptions: vscode.Disposable[] = [];
  private lastErrorShownMs = 0;
  /** Ends the runtime download's progress notification. */
  private downloadDone: (() => void) | undefined;
  private downloadReport: ((p: EngineState & { kind: 'downloading-runtime' }) => void) | undefined;

  constructor(readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Tandem', { log: true });
    this.settings = readSettings();
    this.engine = this.makeEngine();
    const localReady = () => this.engine.state.kind === 'ready' && !!this.engine.modelInfo;
    this.backends = new BackendChoice(context.secrets, this.engine, { log: this.log, localReady, onStatus: (st) => this.status?.setRemote(st), onError: (e) => this.reportError(e) });
    this.service = new CompletionService(this.tracer ? this.tracer.wrap(this.backends.backend) : this.backends.backend, serviceSettings(this.settings));
    this.status = new StatusBar();
    this.provider = new TandemInlineProvider(this.service, {
      settings: () => this.settings,
      ready: () => this.settings.backend === 'remote' || localReady(),
      whenReady: (token) => this.whenLocalReady(token),
      setThinking: (on) => this.status.setActivity({ thinking: on }),
      log: (m) => this.log.debug(m),
      onError: (e) => this.reportError(e),
      tracer: this.tracer,
    });
    this.subscriptions.push(
      this.backends,
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
    void this.backends.init(this.settings);
    void this.ensureModel();
  }

  private makeEngine(): EngineClient {
    const engine = new EngineClient({
      enginePath: this.context.asAbsolutePath('dist/engine.js'),
      runtime: this.runtimeOptions(),
      log: (level, m) => this.log[level](m),
    });
    engine.onState((s) => this.onEngineState(s));
    engine.onPrefill((p) => this.status?.setActivity({ prefill: p }));
    return engine;
  }

  /** Where and how the engine's Node.js runtime is found: the settings, and this extension's own folders. */
  private runtimeOptions(): EngineRuntimeOptions {
    const s = this.settings;
    return {
      explicitPath: s.nodePath,
      storageDir: this.context.globalStorageUri.fsPath,
      webgpuPackageDir: this.context.asAbsolutePath('node_modules/webgpu'),
      allowDownload: s.nodeDownload,
      download: s.nodeDownloadUrl ? { baseUrl: s.nodeDownloadUrl } : undefined,
    };
  }

  get currentSettings(): TandemSettings {
    return this.settings;
  }

  /** True once the local model is ready; false at once when none is coming (no model set, an error state), when `token` is cancelled, or after a minute. */
  private whenLocalReady(token: vscode.CancellationToken): Promise<boolean> {
    const verdict = (s: EngineState): boolean | undefined => {
      if (!this.settings.model || s.kind === 'error' || s.kind === 'no-runtime') return false;
      return s.kind === 'ready' && s.model ? true : undefined;
    };
    const now = verdict(this.engine.state);
    if (now !== undefined || token.isCancellationRequested) return Promise.resolve(now === true && !token.isCancellationRequested);
    return new Promise((resolve) => {
      const done = (v: boolean) => { sub.dispose(); cancel.dispose(); clearTimeout(timer); resolve(v); };
      const sub = this.engine.onState((s) => { const v = verdict(s); if (v !== undefined) done(v); });
      const cancel = token.onCancellationRequested(() => done(false));
      const timer = setTimeout(() => done(false), 60_000);
    });
  }

  private onEngineState(s: EngineState): void {
    this.status.setEngine(s);
    if (s.kind === 'downloading-runtime') this.showDownload(s);
    else this.downloadDone?.();
    if (s.kind === 'error') this.showError(s.error.message, s.error.hint);
    if (s.kind === 'crashed') this.showError(`The Tandem engine stopped (${s.reason}); restarting.`, undefined, true);
  }

  /** One cancellable notification for the whole download, updated per progress event. */
  private showDownload(s: EngineState & { kind: 'downloading-runtime' }): void {
    if (this.downloadReport) return this.downloadReport(s);
    let latest = s;
    let report: ((s: EngineState & { kind: 'downloading-runtime' }) => void) | undefined;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.downloadReport = (next) => {
      latest = next;
      report?.(next);
    };
    this.downloadDone = () => {
      this.downloadReport = undefined;
      this.downloadDone = undefined;
      resolve();
    };
    void vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: 'Tandem: downloading Node.js for the engine',
      cancellable: true,
    }, (progress, token) => {
      token.onCancellationRequested(() => this.engine.cancelRuntimeDownload());
      let donePct = 0;
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      report = ({ progress: p }) => {
        const pct = p.phase === 'download' && p.bytesTotal ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : donePct;
        const message = p.phase === 'download'
          ? `${mib(p.bytesDone)}${p.bytesTotal ? ` of ${mib(p.bytesTotal)}` : ''} MiB`
          : { checksums: 'fetching checksums', verify: 'verifying the checksum', extract: 'unpacking' }[p.phase];
        progress.report({ message, increment: pct - donePct });
        donePct = pct;
      };
      report(latest);
      return done;
    });
  }

  private updatePaused(): void {
    const lang = vscode.window.activeTextEditor?.document.languageId;
    this.status.setActivity({ paused: !this.settings.enable || (lang !== undefined && !enabledFor(this.settings, lang)), noModel: this.settings.backend !== 'remote' && !this.settings.model });
  }

  private async onSettingsChanged(): Promise<void> {
    const before = this.settings;
    this.settings = readSettings();
    this.log.info('settings changed');
    this.service.configure(serviceSettings(this.settings));
    this.backends.apply(this.settings);
    this.updatePaused();
    if (runtimeKey(this.settings) !== runtimeKey(before)) {
      this.log.info('the Node.js runtime settings changed: choosing the runtime again and restarting the engine');
      this.engine.configureRuntime(this.runtimeOptions());
      await this.restartEngine();
      return;
    }
    if (loadKey(this.settings) !== this.loadedKey) {
      await this.ensureModel();
      return;
    }
    const prefill = prefillLimits(this.settings);
    if (JSON.stringify(prefill) !== JSON.stringify(prefillLimits(before))) {
      try {
        await this.engine.tune(prefill);
        this.log.info(`prefill limits: ${prefill.passBudgetMs} ms a pass, ${prefill.passesInFlight} in flight`);
      } catch (e) {
        this.reportError(e);
      }
    }
  }

  /** Loads the configured model if it is not the one loaded. */
  async ensureModel(): Promise<void> {
    const key = loadKey(this.settings);
    if (!wantsLocalModel(this.settings)) {
      // Remote without fallback: no GPU memory for a model nobody asks; '' loads it when that changes.
      this.loadedKey = '';
      return;
    }
    if (!this.settings.model) {
      this.loadedKey = key;
      this.log.info('no model selected (tandem.model is empty)');
      this.status.setEngine(this.engine.state.kind === 'stopped' ? { kind: 'ready', model: undefined } : this.engine.state);
      return;
    }
    this.loadedKey = key;
    try {
      const s = this.settings;
      const info = await this.engine.load({
        modelPath: s.model,
        maxContextTokens: s.maxContextTokens,
        kvBudgetBytes: s.memoryBudgetMB > 0 ? s.memoryBudgetMB * 2 ** 20 : undefined,
        kvType: s.kvCacheType === 'auto' ? undefined : s.kvCacheType,
        draftModelPath: draftModelToLoad(s),
        prefill: prefillLimits(s),
      });
      this.service.clearCache();
      this.warnIfSlow(info, s.maxTokens);
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

  /** Once per window, when a full suggestion would take over SLOW_SUGGESTION_S: how slow, and what to do. */
  private warnIfSlow(info: ModelInfo, maxTokens: number): void {
    const msg = slowModelWarning(info, maxTokens);
    if (this.slowWarned || !msg) return;
    this.slowWarned = true;
    this.log.warn(msg);
    void vscode.window.showWarningMessage(`${msg} A smaller model, a GPU driver (Vulkan, Metal, D3D12) or a remote server would be faster.`, 'Select Model…', 'Use a Remote Server…')
      .then((pick) => {
        if (pick === 'Select Model…') void vscode.commands.executeCommand('tandem.selectModel');
        else if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'tandem.remote');
      });
  }

  reportError(e: unknown): void {
    if (e instanceof NoNodeRuntimeError) {
      this.log.error(`${e.message}\n${e.hint}`);
      this.showNoRuntime(e.hint);
    } else if (e instanceof EngineError) {
      if (e.code === 'CANCELLED') return;
      this.log.error(`${e.code}: ${e.message}`);
      this.showError(e.message, e.hint);
    } else if (e instanceof RemoteError) {
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

  /** The engine cannot start: offer to pick a Node.js binary, or to use an inference server instead. */
  showNoRuntime(hint: string): void {
    const choose = 'Choose Node.js…';
    const remote = 'Use a Remote Server…';
    void vscode.window.showErrorMessage(`Tandem: no Node.js runtime for the engine. ${hint}`, choose, remote, 'Show Logs').then((a) => {
      if (a === choose) void vscode.commands.executeCommand('tandem.chooseNodeRuntime');
      else if (a === remote) void vscode.commands.executeCommand('workbench.action.openSettings', 'tandem.remote');
      else if (a === 'Show Logs') this.log.show();
    });
  }

  dispose(): void {
    this.downloadDone?.();
    for (const d of this.subscriptions) d.dispose();
    void this.tracer?.dispose();
    void this.engine.dispose();
  }
}
