// The backend choice on the VS Code side: the local engine or an inference server (tandem.backend), the
// server's API key in SecretStorage (never in settings.json), and the fallback to the local engine. The
// completion service talks to `backend`, a switch that this object repoints when the settings or the key
// change, so nothing needs a reload.

import * as vscode from 'vscode';
import { FallbackBackend, SwitchableBackend, type CompletionBackend } from '../completion/backend';
import { RemoteBackend, type RemoteStatus } from '../remote/backend';
import { RemoteError } from '../remote/errors';
import { remoteKey, type TandemSettings } from './settings';

export const API_KEY_SECRET = 'tandem.remote.apiKey';

export interface RemoteHooks {
  log: vscode.LogOutputChannel;
  /** The local engine can answer now (a model is loaded). */
  localReady(): boolean;
  /** undefined: the local backend is in use. */
  onStatus(s: RemoteStatus | undefined): void;
  onError(e: unknown): void;
}

export class BackendChoice implements vscode.Disposable {
  readonly backend: SwitchableBackend;
  private remote: RemoteBackend | undefined;
  private statusSub: { dispose(): void } | undefined;
  private appliedKey = '';
  private apiKey: string | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly secrets: vscode.SecretStorage, private readonly local: CompletionBackend, private readonly hooks: RemoteHooks) {
    this.backend = new SwitchableBackend(local);
    this.subscriptions.push(secrets.onDidChange((e) => {
      if (e.key === API_KEY_SECRET) void this.loadKey().then(() => this.last && this.apply(this.last, true));
    }));
  }

  private last: TandemSettings | undefined;

  /** The remote backend in use, if any (statistics). */
  get active(): RemoteBackend | undefined {
    return this.remote;
  }

  /** Reads the API key, then applies the settings. */
  async init(s: TandemSettings): Promise<void> {
    await this.loadKey();
    this.apply(s);
  }

  private async loadKey(): Promise<void> {
    this.apiKey = (await this.secrets.get(API_KEY_SECRET)) || undefined;
  }

  /** Points the switch at what the settings ask for; a no-op when nothing relevant changed. */
  apply(s: TandemSettings, force = false): void {
    this.last = s;
    const key = remoteKey(s) + (this.apiKey ? ':key' : '');
    if (key === this.appliedKey && !force) return;
    this.appliedKey = key;
    this.statusSub?.dispose();
    this.remote?.dispose();
    this.remote = undefined;
    if (s.backend !== 'remote') {
      this.backend.use(this.local);
      this.hooks.onStatus(undefined);
      return;
    }
    try {
      this.remote = new RemoteBackend({
        url: s.remoteUrl,
        api: s.remoteApi,
        model: s.remoteModel,
        apiKey: this.apiKey,
        timeoutMs: s.remoteTimeoutMs,
        contextTokens: s.maxContextTokens,
        log: (level, m) => this.hooks.log[level](m),
      });
    } catch (e) {
      // A malformed URL, or a key that would go out over plain HTTP: say so, and serve nothing rather than leak.
      const err = e instanceof RemoteError ? e : new RemoteError('REMOTE_CONFIG', `tandem.remote.url is not a URL: ${s.remoteUrl}`, 'Set it to http(s)://host:port.');
      this.backend.use({ complete: () => Promise.reject(err) });
      this.hooks.onStatus({ kind: 'error', url: s.remoteUrl, error: err });
      this.hooks.onError(err);
      return;
    }
    this.statusSub = this.remote.onStatus((st) => this.hooks.onStatus(st));
    this.hooks.onStatus(this.remote.status);
    this.hooks.log.info(`completions from ${s.remoteUrl} (${s.remoteApi}${s.remoteModel ? `, ${s.remoteModel}` : ''})${s.remoteFallbackToLocal ? ', falling back to the local model' : ''}`);
    this.backend.use(s.remoteFallbackToLocal
      ? new FallbackBackend(this.remote, this.local, {
        fallbackReady: () => this.hooks.localReady(),
        onFallback: (e) => this.hooks.log.warn(`the server failed (${(e as Error).message}); answered by the local model`),
      })
      : this.remote);
  }

  /** "Tandem: Set Remote API Key": a password box; empty removes the key. */
  async promptForKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'Tandem: API key of the completion server',
      prompt: 'Kept in VS Code\'s secret storage (the OS keychain), never in settings. Leave empty to remove it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return;
    if (key.trim()) await this.secrets.store(API_KEY_SECRET, key.trim());
    else await this.secrets.delete(API_KEY_SECRET);
    void vscode.window.showInformationMessage(key.trim() ? 'Tandem: API key saved.' : 'Tandem: API key removed.');
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.statusSub?.dispose();
    this.remote?.dispose();
  }
}
