// The inline completion provider: turns the document around the cursor into a CompletionRequest, asks
// the CompletionService (reuse, debounce, engine), and offers the text as ghost text at the cursor.
// Partial accept (word / line) is VS Code's own (editor.action.inlineSuggest.acceptNextWord/Line).
// While the suggest widget is open, VS Code shows only ghost text that extends its selected item, so the
// request is then made as if that item were accepted, and the item's text leads the ghost text.

import * as vscode from 'vscode';
import type { CompletionService } from '../completion/service';
import { quietOutcome, type RequestTracer, type TraceOutcome, type TraceRecord } from '../completion/trace';
import { capRequestText, OTHER_FILE_CHARS, requestLines } from '../completion/editorText';
import type { CompletionRequest, ContextFile } from '../completion/types';
import { enabledFor, type TandemSettings } from './settings';


export interface ProviderHooks {
  settings(): TandemSettings;
  ready(): boolean;
  /** Resolves true once ready, false when it will not be (loading failed, no model) or `token` is cancelled. */
  whenReady(token: vscode.CancellationToken): Promise<boolean>;
  setThinking(on: boolean): void;
  log(message: string): void;
  onError(e: unknown): void;
  /** Per-request timing lines (TANDEM_TRACE_FILE); its backend wrapper must be the service's backend. */
  tracer?: RequestTracer;
}

export class TandemInlineProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  /** Documents by last edit time: other files for the prompt, least recently edited first (stable first). */
  private readonly editedAtMs = new Map<string, number>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private inFlight = 0;

  constructor(private readonly service: CompletionService, private readonly hooks: ProviderHooks) {
    this.subscriptions.push(vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.uri.scheme === 'file' || e.document.uri.scheme === 'untitled' || e.document.uri.scheme === 'vscode-remote') {
        this.editedAtMs.set(e.document.uri.toString(), Date.now());
      }
    }));
    this.subscriptions.push(vscode.workspace.onDidCloseTextDocument((d) => this.editedAtMs.delete(d.uri.toString())));
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const tracer = this.hooks.tracer;
    const record = tracer?.begin();
    const documentVersion = document.version; // live: read before the awaits
    const a = await this.answer(document, position, context, token, record);
    if (tracer && record) {
      tracer.end(record, {
        documentVersion, line: position.line, character: position.character, promptCache: this.hooks.settings().promptCache,
        returnedAtMs: Date.now(), outcome: a.outcome, textChars: a.textChars,
      });
    }
    return a.items;
  }

  private async answer(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
    record: TraceRecord | undefined,
  ): Promise<{ items?: vscode.InlineCompletionItem[]; outcome: TraceOutcome; textChars: number }> {
    const s = this.hooks.settings();
    const explicit = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    if (!enabledFor(s, document.languageId) && !explicit) return { outcome: 'skipped', textChars: 0 };
    // While the model loads, the request waits for it (until the user types on or loading fails): the
    // workbench does not ask again at the same document version and cursor once a request there has
    // answered, so an empty answer now would leave no suggestion until the next keystroke.
    if (!this.hooks.ready() && !(await this.hooks.whenReady(token))) return { outcome: 'skipped', textChars: 0 };
    if (token.isCancellationRequested) return { outcome: 'cancelled', textChars: 0 };
    const selected = context.selectedCompletionInfo;
    const req = this.request(document, position, s, selected);
    if (record) this.hooks.tracer?.attach(req, record);
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    this.setThinking(+1);
    try {
      const served = await this.service.provide(req, { signal: ac.signal, explicit });
      if (token.isCancellationRequested) return { outcome: 'cancelled', textChars: 0 };
      if (!served) return { outcome: record && this.hooks.tracer ? quietOutcome(this.hooks.tracer, record) : 'empty', textChars: 0 };
      if (served.result) {
        const t = served.result.timings;
        this.hooks.log(`completion (${served.result.template}, ${served.result.stoppedBy}): ${t.promptTokens} prompt tokens (${t.reusedTokens ?? 0} cached), ${t.generatedTokens} generated, prefill ${t.prefillMs.toFixed(0)} ms, decode ${t.decodeMs.toFixed(0)} ms`);
      }
      const item = selected
        ? new vscode.InlineCompletionItem(selected.text + served.text, selected.range)
        : new vscode.InlineCompletionItem(served.text, new vscode.Range(position, position));
      return { items: [item], outcome: served.source === 'model' ? 'shown' : 'reused', textChars: served.text.length };
    } catch (e) {
      this.hooks.onError(e);
      return { outcome: 'error', textChars: 0 };
    } finally {
      this.setThinking(-1);
      sub.dispose();
    }
  }

  private setThinking(delta: number): void {
    const was = this.inFlight > 0;
    this.inFlight += delta;
    if (was !== this.inFlight > 0) this.hooks.setThinking(this.inFlight > 0);
  }

  /** With `selected` (the suggest widget's item), the text is taken as if the item replaced its range. */
  request(document: vscode.TextDocument, position: vscode.Position, s: TandemSettings, selected?: vscode.SelectedCompletionInfo): CompletionRequest {
    const { startLine, endLine } = requestLines(position.line, document.lineCount);
    const before = selected ? selected.range.start : position;
    const after = selected && selected.range.end.isAfter(position) ? selected.range.end : position;
    const { prefix, prefixLineOffset, suffix } = capRequestText(
      document.getText(new vscode.Range(startLine, 0, before.line, before.character)) + (selected?.text ?? ''),
      document.getText(new vscode.Range(after, document.lineAt(endLine).range.end)), startLine, s);
    return {
      // Without the id the engine prefills the whole prompt on a fresh sequence (tandem.promptCache off).
      documentId: s.promptCache ? document.uri.toString() : undefined,
      prefix,
      prefixLineOffset,
      suffix,
      path: vscode.workspace.asRelativePath(document.uri, false),
      languageId: document.languageId,
      contextFiles: this.otherFiles(document, s.otherFiles),
    };
  }

  /** Other open documents of the same language, least recently edited first. */
  private otherFiles(current: vscode.TextDocument, max: number): ContextFile[] {
    if (max <= 0) return [];
    const docs = vscode.workspace.textDocuments.filter((d) =>
      d !== current && d.languageId === current.languageId && !d.isClosed && d.uri.scheme !== 'output' && d.getText().trim() !== '');
    const recent = docs
      .map((d) => ({ d, at: this.editedAtMs.get(d.uri.toString()) ?? 0 }))
      .sort((a, b) => b.at - a.at)
      .slice(0, max)
      .reverse();
    return recent.map(({ d }) => ({ path: vscode.workspace.asRelativePath(d.uri, false), text: d.getText().slice(0, OTHER_FILE_CHARS) }));
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
