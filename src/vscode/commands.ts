// The "Tandem: ..." commands, and the status bar menu that lists them.

import * as vscode from 'vscode';
import { CATALOG, resolveModel } from '../models/catalog';
import type { PromptCacheStats } from '../host/engine/protocol';
import type { TandemController } from './controller';
import { downloadRecommendedModel } from './downloadModel';
import { findModels } from './modelFinder';
import { setLanguageEnabled } from './settings';

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
    reg('tandem.selectModel', () => selectModel(c)),
    reg('tandem.triggerCompletion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    reg('tandem.showStatistics', () => showStatistics(c)),
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
}

async function selectModel(c: TandemController): Promise<void> {
  const found = findModels(c.currentSettings.modelsFolder);
  const current = c.currentSettings.model;
  const items: ModelItem[] = found.map((m) => ({
    label: (m.path === current ? '$(check) ' : '') + (m.label ?? m.path.split(/[\\/]/).pop()!),
    description: `${(m.bytes / 2 ** 20).toFixed(1)} MiB · ${m.source}`,
    detail: m.path,
    path: m.path,
  }));
  for (const [name, e] of Object.entries(CATALOG)) items.push({ label: `$(cloud-download) ${name}`, description: e.description, catalog: name });
  items.push({ label: '$(cloud-download) Download a Recommended Model…', description: 'Qwen2.5-Coder GGUFs from Hugging Face', download: true });
  items.push({ label: '$(folder-opened) Browse for a GGUF file…', browse: true });
  const pick = await vscode.window.showQuickPick(items, { title: 'Tandem: Select Model', placeHolder: found.length ? 'A GGUF model for completions' : 'No GGUF found in the usual folders: browse, or set tandem.modelsFolder' });
  if (!pick) return;
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
  await vscode.workspace.getConfiguration('tandem').update('model', path, vscode.ConfigurationTarget.Global);
}

function promptCacheRows(p: PromptCacheStats): string[] {
  return [
    `| prompt cache: tokens reused / prefilled | ${p.reusedTokens} / ${p.prefilledTokens} (hit rate ${(100 * p.tokenHitRate).toFixed(0)}%) |`,
    `| prompt cache: documents | ${p.documents} (${p.documentsDropped} dropped for memory) |`,
    `| prompt cache: blocks used / cached / free | ${p.blocksUsed} / ${p.blocksCached} / ${p.blocksFree} of ${p.blocksTotal} (${p.evictions} evicted) |`,
  ];
}

async function showStatistics(c: TandemController): Promise<void> {
  const client = c.service.stats();
  let engineText = '_the engine is not running_';
  try {
    const e = await c.engine.stats();
    const m = e.model;
    engineText = [
      m ? `| model | ${m.name} (${m.architecture}), ${(m.weightBytes / 2 ** 20).toFixed(1)} MiB, context ${m.contextTokens} |` : '| model | none |',
      m ? `| template | ${m.template} (${m.templateReason}) |` : '',
      m ? `| adapter | ${m.adapter}${m.isSoftwareAdapter ? ' (software: slow)' : ''} |` : '',
      `| requests | ${e.requests} (${e.cancelled} cancelled) |`,
      `| decode | ${e.decodeTokensPerS.toFixed(1)} tok/s |`,
      `| prefill | ${e.prefillTokensPerS.toFixed(1)} tok/s |`,
      `| engine latency p50 / p95 | ${e.latencyMsP50.toFixed(0)} / ${e.latencyMsP95.toFixed(0)} ms |`,
      `| KV blocks in use | ${e.kvBlocksUsed} / ${e.kvBlocksTotal} |`,
      ...(e.promptCache ? promptCacheRows(e.promptCache) : []),
      `| engine memory (RSS) | ${(e.rssBytes / 2 ** 20).toFixed(0)} MiB |`,
      `| engine restarts | ${c.engine.restarts} |`,
    ].filter(Boolean).join('\n');
  } catch {
    // shown as not running
  }
  const served = client.served.model + client.served.cache + client.served.typedAlong;
  const hitRate = served ? ((100 * (client.served.cache + client.served.typedAlong)) / served).toFixed(0) : '0';
  const content = `# Tandem statistics\n\n## Editor side\n\n| | |\n|---|---|\n` +
    `| requests | ${client.requests} |\n| from the model | ${client.served.model} (${client.empty} empty) |\n` +
    `| from the cache / typed along | ${client.served.cache} / ${client.served.typedAlong} (hit rate ${hitRate}%) |\n` +
    `| dropped by debounce or cancelled | ${client.cancelled} |\n| errors | ${client.errors} |\n| debounce now | ${client.debounceMs} ms |\n` +
    `| keystroke-to-completion p50 / p95 | ${client.latencyMsP50.toFixed(0)} / ${client.latencyMsP95.toFixed(0)} ms |\n\n## Engine\n\n| | |\n|---|---|\n${engineText}\n${remoteStatistics(c)}`;
  const doc = await vscode.workspace.openTextDocument({ content, language: 'markdown' });
  await vscode.window.showTextDocument(doc, { preview: true });
}

/** The server's share of the statistics, when completions come from one. */
function remoteStatistics(c: TandemController): string {
  const r = c.backends.active;
  if (!r) return '';
  const st = r.stats();
  const status = r.status.kind === 'error' ? `error: ${r.status.error.message}` : r.status.kind;
  return `\n## Server\n\n| | |\n|---|---|\n| server | ${r.o.url} (${r.o.api}${r.o.model ? `, ${r.o.model}` : ''}) |\n| status | ${status} |\n` +
    `| requests | ${st.requests} (${st.ok} answered, ${st.cancelled} cancelled, ${st.errors} failed, ${st.retries} retries) |\n` +
    `| first token p50 / p95 | ${st.firstTokenMsP50.toFixed(0)} / ${st.firstTokenMsP95.toFixed(0)} ms |\n| open connections | ${r.openSockets} |\n`;
}
