// The "Tandem: ..." commands, and the status bar menu that lists them.

import * as vscode from 'vscode';
import { CATALOG, resolveModel } from '../models/catalog';
import type { TandemController } from './controller';
import { runBenchmark } from './benchmarkCommand';
import { downloadRecommendedModel } from './downloadModel';
import { findModels } from './modelFinder';
import { setLanguageEnabled } from './settings';
import { StatsView } from './statsView';

interface MenuItem extends vscode.QuickPickItem {
  command: string;
}

export function registerCommands(c: TandemController): vscode.Disposable[] {
  const reg = (id: string, f: () => unknown) => vscode.commands.registerCommand(id, f);
  const config = () => vscode.workspace.getConfiguration('tandem');
  return [
    reg('tandem.showMenu', () => showMenu(c)),
    reg('tandem.enable', () => config().update('enable', true, vscode.ConfigurationTarget.Global)),
    reg('tandem.disable', () => config().update('enable', false, vscode.ConfigurationTarget.Global)),
    reg('tandem.toggleLanguage', async () => {
      const lang = vscode.window.activeTextEditor?.document.languageId;
      if (!lang) return void vscode.window.showInformationMessage('Tandem: open a file first; the setting is per language.');
      const s = c.currentSettings;
      const on = !(s.languages[lang] ?? s.languages['*'] ?? true);
      await setLanguageEnabled(lang, on);
      void vscode.window.showInformationMessage(`Tandem ${on ? 'enabled' : 'disabled'} for ${lang}.`);
    }),
    reg('tandem.selectModel', () => selectModel(c, 'model')),
    reg('tandem.selectDraftModel', () => selectModel(c, 'draftModel')),
    reg('tandem.triggerCompletion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    reg('tandem.showStatistics', () => StatsView.show(c)),
    reg('tandem.clearCache', async () => {
      c.service.clearCache();
      try {
        await c.engine.clearCache();
      } catch (e) {
        c.reportError(e);
      }
      void vscode.window.showInformationMessage('Tandem: completion cache and cached prompts cleared.');
    }),
    reg('tandem.restartEngine', () => c.restartEngine()),
    reg('tandem.chooseNodeRuntime', () => chooseNodeRuntime()),
    reg('tandem.showLogs', () => c.log.show()),
    reg('tandem.setRemoteApiKey', () => c.backends.promptForKey()),
    reg('tandem.downloadModel', () => downloadRecommendedModel(c)),
    reg('tandem.runBenchmark', () => runBenchmark(c)),
    { dispose: () => StatsView.closeCurrent() },
  ];
}

async function showMenu(c: TandemController): Promise<void> {
  const s = c.currentSettings;
  const lang = vscode.window.activeTextEditor?.document.languageId;
  const model = c.engine.modelInfo;
  const noRuntime = c.engine.state.kind === 'no-runtime';
  const items: MenuItem[] = [
    ...(noRuntime ? [
      { label: '$(file-binary) Choose Node.js…', description: 'the engine needs Node.js 20 or newer', command: 'tandem.chooseNodeRuntime' },
      { label: '$(remote) Use a Remote Server…', description: 'tandem.remote settings', command: 'tandem.remoteSettings' },
    ] : []),
    s.enable
      ? { label: '$(circle-slash) Disable Completions', command: 'tandem.disable' }
      : { label: '$(check) Enable Completions', command: 'tandem.enable' },
    ...(lang ? [{ label: `$(symbol-namespace) Enable/Disable for ${lang}`, command: 'tandem.toggleLanguage' }] : []),
    { label: '$(file-binary) Select Model…', description: model ? `${model.name} (${model.template})` : 'none', command: 'tandem.selectModel' },
    { label: '$(file-binary) Select Draft Model…', description: s.draftModel ? `${s.draftModel.split(/[\\/]/).pop()} (${s.draft})` : 'none (speculative decoding from a small model)', command: 'tandem.selectDraftModel' },
    { label: '$(cloud-download) Download a Recommended Model…', description: 'Qwen2.5-Coder GGUFs', command: 'tandem.downloadModel' },
    { label: '$(lightbulb-sparkle) Trigger Completion', command: 'tandem.triggerCompletion' },
    { label: '$(graph) Show Statistics', command: 'tandem.showStatistics' },
    { label: '$(clear-all) Clear Cache', command: 'tandem.clearCache' },
    { label: '$(debug-restart) Restart Engine', command: 'tandem.restartEngine' },
    { label: '$(output) Show Logs', command: 'tandem.showLogs' },
    ...(s.backend === 'remote' ? [{ label: '$(key) Set Remote API Key…', description: s.remoteUrl, command: 'tandem.setRemoteApiKey' }] : []),
    { label: '$(settings-gear) Settings', command: 'workbench.action.openSettings' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Tandem', placeHolder: 'Choose an action' });
  if (!pick) return;
  if (pick.command === 'workbench.action.openSettings') await vscode.commands.executeCommand(pick.command, '@ext:tandem-dev.tandem');
  else if (pick.command === 'tandem.remoteSettings') await vscode.commands.executeCommand('workbench.action.openSettings', 'tandem.remote');
  else await vscode.commands.executeCommand(pick.command);
}

/** A file picker for the Node.js binary; the choice goes to tandem.nodePath, whose change restarts the engine. */
async function chooseNodeRuntime(): Promise<void> {
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    title: 'Choose the Node.js (20 or newer) that runs the Tandem engine',
    openLabel: 'Use this Node.js',
    filters: process.platform === 'win32' ? { 'Node.js': ['exe'] } : undefined,
  });
  const path = uris?.[0]?.fsPath;
  if (path) await vscode.workspace.getConfiguration('tandem').update('nodePath', path, vscode.ConfigurationTarget.Global);
}

interface ModelItem extends vscode.QuickPickItem {
  path?: string;
  catalog?: string;
  browse?: boolean;
  download?: boolean;
  none?: boolean;
}

/**
 * A quick pick of the GGUFs on this machine for the target (tandem.model) or the draft (tandem.draftModel).
 * Choosing a draft turns speculative decoding from it on (tandem.draft: off → model, ngram → model+ngram);
 * "None" turns it off again (model → off, model+ngram → ngram). The engine checks the vocabularies.
 */
async function selectModel(c: TandemController, role: 'model' | 'draftModel'): Promise<void> {
  const found = findModels(c.currentSettings.modelsFolder);
  const current = role === 'model' ? c.currentSettings.model : c.currentSettings.draftModel;
  const items: ModelItem[] = role === 'draftModel' ? [{ label: (current ? '' : '$(check) ') + 'None', description: 'no draft model', none: true }] : [];
  // Self-speculation: the model's own weights requantized at load (no second file; refused for a model already that small).
  if (role === 'draftModel') {
    for (const [path, bits] of [['self:q4_0', 'Q4_0'], ['self:q8_0', 'Q8_0']]) {
      items.push({ label: `${current === path ? '$(check) ' : ''}The model itself at ${bits}`, description: `${path} · self-speculation, no second model`, path });
    }
  }
  items.push(...found.map((m) => ({
    label: (m.path === current ? '$(check) ' : '') + (m.label ?? m.path.split(/[\\/]/).pop()!),
    description: `${(m.bytes / 2 ** 20).toFixed(1)} MiB · ${m.source}`,
    detail: m.path,
    path: m.path,
  })));
  for (const [name, e] of Object.entries(CATALOG)) items.push({ label: `$(cloud-download) ${name}`, description: e.description, catalog: name });
  items.push({ label: '$(cloud-download) Download a Recommended Model…', description: 'Qwen2.5-Coder GGUFs from Hugging Face', download: true });
  items.push({ label: '$(folder-opened) Browse for a GGUF file…', browse: true });
  const title = role === 'model' ? 'Tandem: Select Model' : 'Tandem: Select Draft Model';
  const want = role === 'model' ? 'A GGUF model for completions' : 'A small model with the same tokenizer, to draft tokens the model verifies';
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: found.length ? want : 'No GGUF found in the usual folders: browse, or set tandem.modelsFolder' });
  if (!pick) return;
  const config = vscode.workspace.getConfiguration('tandem');
  if (pick.none) {
    await config.update('draftModel', '', vscode.ConfigurationTarget.Global);
    const draft = c.currentSettings.draft;
    if (draft === 'model' || draft === 'model+ngram') await config.update('draft', draft === 'model' ? 'off' : 'ngram', vscode.ConfigurationTarget.Global);
    return;
  }
  if (pick.download) return downloadRecommendedModel(c);
  let path = pick.path;
  if (pick.browse) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'] }, title: 'Select a GGUF model' });
    path = uris?.[0]?.fsPath;
  } else if (pick.catalog) {
    path = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Tandem: getting ${pick.catalog}` }, (p) =>
      resolveModel(pick.catalog!, (m) => {
        c.log.info(m);
        p.report({ message: m });
      }));
  }
  if (!path) return;
  await config.update(role, path, vscode.ConfigurationTarget.Global);
  if (role === 'draftModel') {
    const draft = c.currentSettings.draft;
    if (draft === 'off' || draft === 'ngram') await config.update('draft', draft === 'off' ? 'model' : 'model+ngram', vscode.ConfigurationTarget.Global);
  }
}
