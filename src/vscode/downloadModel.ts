// "Tandem: Download a Recommended Model": a quick pick of src/models/recommended.ts, the download in a
// cancellable progress notification (MB, MB/s, time left), then an offer to use the file as the model
// (tandem.model) or, when the extension has that setting, as the draft (tandem.draftModel). The work is
// src/models/hubDownload.ts; this file is only the editor around it.
// A cancel keeps the .part file: running the command again resumes it (the quick pick shows how much is kept).

import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { describeTransfer, TransferMeter } from '../common/download';
import { CancelledError, TandemError } from '../common/errors';
import { modelsDir } from '../models/catalog';
import { downloadHubFile, hubBaseUrl, hubFilePath, partialBytes, type HubDownloadResult } from '../models/hubDownload';
import { RECOMMENDED_MODELS, type RecommendedModel } from '../models/recommended';
import type { TandemController } from './controller';

interface Pick extends vscode.QuickPickItem {
  model: RecommendedModel;
}

const GB = (n: number) => `${(n / 1e9).toFixed(1)} GB`;

export async function downloadRecommendedModel(c: TandemController): Promise<void> {
  const dir = modelsDir();
  const items: Pick[] = RECOMMENDED_MODELS.map((m) => {
    const path = hubFilePath(dir, m.repo, m.file);
    const kept = partialBytes(dir, m.repo, m.file);
    const state = c.currentSettings.model === path ? ' · in use' : existsSync(path) ? ' · downloaded' : kept ? ` · ${GB(kept)} kept, resumes` : '';
    return {
      label: `$(cloud-download) ${m.label}`,
      description: `${m.role === 'draft' ? 'draft' : 'model'} · ${m.quantization} · ${GB(m.bytes)}${state}`,
      detail: `${m.description} (${m.repo})`,
      model: m,
    };
  });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Tandem: Download a Recommended Model',
    placeHolder: `From ${hubBaseUrl(c.currentSettings.modelDownloadUrl)} into ${dir}`,
  });
  if (!pick) return;
  const got = await downloadWithProgress(c, pick.model, dir);
  if (got) await offerToUse(c, pick.model, got);
}

async function downloadWithProgress(c: TandemController, m: RecommendedModel, dir: string): Promise<HubDownloadResult | undefined> {
  const baseUrl = hubBaseUrl(c.currentSettings.modelDownloadUrl);
  c.log.info(`downloading ${m.repo}/${m.file} from ${baseUrl} into ${dir}`);
  try {
    const got = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Tandem: downloading ${m.label}`,
      cancellable: true,
    }, (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      const meter = new TransferMeter();
      let shownPercent = 0;
      let lastReportMs = 0;
      return downloadHubFile({
        baseUrl, repo: m.repo, file: m.file, modelsDir: dir, signal: ac.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (p.phase === 'listing') return progress.report({ message: 'asking the hub for the file\'s SHA-256…' });
          if (p.phase === 'verify') return progress.report({ message: 'checking the SHA-256…' });
          meter.sample(p.bytesDone, now);
          if (now - lastReportMs < 250 && p.bytesDone !== p.bytesTotal) return; // a notification update per chunk is too many
          lastReportMs = now;
          const percent = p.bytesTotal ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 0;
          progress.report({ message: describeTransfer(p.bytesDone, p.bytesTotal, meter.bytesPerS(), meter.etaS(p.bytesTotal)), increment: percent - shownPercent });
          shownPercent = percent;
        },
      });
    });
    c.log.info(got.alreadyPresent ? `${got.path} was already downloaded` : `downloaded ${got.path} (${got.bytes} bytes, SHA-256 ${got.sha256})`);
    return got;
  } catch (e) {
    if (e instanceof CancelledError) {
      const kept = partialBytes(dir, m.repo, m.file);
      c.log.info(`download of ${m.file} cancelled; ${kept} bytes kept for a resume`);
      void vscode.window.showInformationMessage(`Tandem: download of ${m.label} paused (${GB(kept)} kept). Run "Download a Recommended Model" again to resume.`);
      return undefined;
    }
    const err = e as Error;
    const hint = e instanceof TandemError ? e.hint : undefined;
    c.log.error(`${err.message}${hint ? `\n${hint}` : ''}`);
    const action = await vscode.window.showErrorMessage(`Tandem: ${err.message}${hint ? ` ${hint}` : ''}`, 'Retry', 'Show Logs');
    if (action === 'Retry') return downloadWithProgress(c, m, dir);
    if (action === 'Show Logs') c.log.show();
    return undefined;
  }
}

/** tandem.draftModel exists only once speculative decoding is wired in the extension: offer it only then. */
function hasDraftSetting(c: TandemController): boolean {
  const props = (c.context.extension.packageJSON as { contributes?: { configuration?: { properties?: Record<string, unknown> } } })
    .contributes?.configuration?.properties;
  return !!props && 'tandem.draftModel' in props;
}

async function offerToUse(c: TandemController, m: RecommendedModel, got: HubDownloadResult): Promise<void> {
  const draft = hasDraftSetting(c);
  const useModel = 'Use as Model';
  const useDraft = 'Use as Draft Model';
  const actions = draft && m.role === 'draft' ? [useDraft, useModel] : draft ? [useModel, useDraft] : [useModel];
  const what = got.alreadyPresent ? 'is already downloaded' : 'is downloaded and verified';
  const choice = await vscode.window.showInformationMessage(`Tandem: ${m.label} ${what} (${got.path}).`, ...actions);
  const config = vscode.workspace.getConfiguration('tandem');
  if (choice === useModel) await config.update('model', got.path, vscode.ConfigurationTarget.Global);
  else if (choice === useDraft) await config.update('draftModel', got.path, vscode.ConfigurationTarget.Global);
}
