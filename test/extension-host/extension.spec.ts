// Tandem through the extension API, inside the real extension host (code-server's), with stories260K
// set as tandem.model by the driver (test/extension/extension-host.test.ts): activation, the commands of
// package.json registered, an inline completion from the engine accepted into a real document, and
// settings changes taking effect without a reload (a request's, and the engine's prefill limits), and a
// long prefill's progress in the status bar.
import assert from 'node:assert/strict';
import { describe, it, before } from 'mocha';
import * as vscode from 'vscode';
import type { TandemController } from '../../src/vscode/controller';

const EXTENSION_ID = 'tandem-dev.tandem';

/** Polls every 100 ms: ghost text appearing has no API event to wait on. */
async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Types `text` at the end of the editor's document, asks for an inline completion and accepts it (Tab). Returns the accepted text. */
async function completeAtEnd(editor: vscode.TextEditor, text: string): Promise<string> {
  const doc = editor.document;
  await editor.edit((b) => b.insert(doc.lineAt(doc.lineCount - 1).range.end, text));
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  editor.selection = new vscode.Selection(end, end);
  const before = doc.getText();
  return until('an inline completion accepted into the document', 90_000, async () => {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await new Promise((r) => setTimeout(r, 250)); // the provider runs after the debounce; commit shows nothing until then
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    const after = doc.getText();
    if (after === before) return undefined;
    assert.ok(after.startsWith(before), `the document changed in place, not at the cursor:\n${after}`);
    return after.slice(before.length);
  });
}

describe('Tandem in the extension host', () => {
  let editor: vscode.TextEditor;
  let controller: TandemController;

  before(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed`);
    ({ controller } = (await ext.activate()) as { controller: TandemController });
    // The tests below time their completions; the model is loaded first. (A request made while it loads
    // waits for it: the last test.)
    await until('the engine to load tandem.model', 90_000, () => (controller.engine.state.kind === 'ready' && controller.engine.modelInfo ? true : undefined));
    const doc = await vscode.workspace.openTextDocument({ language: 'javascript', content: '// A short story.\n' });
    editor = await vscode.window.showTextDocument(doc);
  });

  it('activates and returns its controller', () => {
    const ext = vscode.extensions.getExtension<{ controller: unknown }>(EXTENSION_ID)!;
    assert.equal(ext.isActive, true);
    assert.ok(ext.exports.controller, 'activate() returned no controller');
  });

  it('registers every command that package.json contributes', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed = (ext.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    assert.ok(contributed.length >= 10);
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(contributed.filter((c) => !registered.has(c)), []);
  });

  it('an inline completion from the engine is accepted into a real document', async () => {
    const accepted = await completeAtEnd(editor, 'Once upon a time');
    assert.ok(accepted.trim().length > 0, `accepted only whitespace: ${JSON.stringify(accepted)}`);
    // stories260K at temperature 0 continues a story in words, never code
    assert.match(accepted, /[a-z]{2,}/);
  });

  it('a settings change applies without a reload: tandem.maxTokens 2 shortens the next completion', async () => {
    const config = vscode.workspace.getConfiguration('tandem');
    const long = await completeAtEnd(editor, '\nOne day, a little');
    await config.update('maxTokens', 2, vscode.ConfigurationTarget.Global);
    try {
      // the extension's own view of its settings follows (onDidChangeConfiguration may land after update() resolves)
      await until('the controller to read tandem.maxTokens 2', 10_000, () => (controller.currentSettings.maxTokens === 2 ? true : undefined));
      const short = await completeAtEnd(editor, '\nOne day, a big');
      // two tokens of stories260K's 512-token vocabulary: a few characters, against the longer first completion
      assert.ok(short.length > 0 && short.length <= 16 && short.length < long.length, `maxTokens 2 gave ${JSON.stringify(short)} after ${JSON.stringify(long)}`);
    } finally {
      await config.update('maxTokens', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('the prefill settings reach the loaded engine without a reload', async () => {
    const config = vscode.workspace.getConfiguration('tandem');
    const loaded = controller.engine.modelInfo;
    await config.update('prefill.passBudgetMs', 300, vscode.ConfigurationTarget.Global);
    await config.update('prefill.passesInFlight', 3, vscode.ConfigurationTarget.Global);
    try {
      await until('the engine to run with 300 ms a pass, 3 in flight', 10_000, async () => {
        const p = (await controller.engine.stats()).prefill;
        return p?.passBudgetMs === 300 && p.passesInFlight === 3 ? true : undefined;
      });
      assert.equal(controller.engine.modelInfo, loaded, 'the model was not loaded again');
      assert.equal(controller.engine.state.kind, 'ready');
    } finally {
      await config.update('prefill.passBudgetMs', undefined, vscode.ConfigurationTarget.Global);
      await config.update('prefill.passesInFlight', undefined, vscode.ConfigurationTarget.Global);
    }
    await until('the defaults back', 10_000, async () => {
      const p = (await controller.engine.stats()).prefill;
      return p?.passBudgetMs === 500 && p.passesInFlight === 2 ? true : undefined;
    });
  });

  it('a prompt read in several passes shows its progress in the status bar, and the bar clears after', async () => {
    // The driver sets TANDEM_PREFILL_REPORT_MS=0,0: every pass is reported (stories260K reads a prompt in
    // milliseconds, under the 300 ms a user would see). A prompt over one 128-token batch: several passes.
    const shown: string[] = [];
    const status = controller.status;
    const setActivity = status.setActivity.bind(status);
    status.setActivity = (a) => { setActivity(a); shown.push(status.text); };
    try {
      const story = ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';
      await completeAtEnd(editor, `\n${story.repeat(6)}\nThe`);
    } finally {
      status.setActivity = setActivity;
    }
    const progress = shown.filter((t) => /Tandem \d+%$/.test(t));
    assert.ok(progress.length > 0, `no progress shown: ${JSON.stringify(shown)}`);
    assert.ok(!/%/.test(status.text), `the bar still shows ${status.text}`);
  });

  it('a suggestion asked for while the model loads comes once it is ready, without another keystroke', async () => {
    const restarting = vscode.commands.executeCommand('tandem.restartEngine');
    await until('the engine to start reloading', 10_000, () => (controller.engine.state.kind !== 'ready' ? true : undefined));
    const doc = editor.document;
    await editor.edit((b) => b.insert(doc.lineAt(doc.lineCount - 1).range.end, '\nThe cat'));
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(end, end);
    const before = doc.getText();
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'); // answered empty: not loaded yet
    await restarting;
    await until('the engine to be ready again', 90_000, () => (controller.engine.state.kind === 'ready' && controller.engine.modelInfo ? true : undefined));
    // No trigger from here on: the extension asks again itself; commit takes the suggestion once it shows.
    const accepted = await until('the suggestion asked for while loading', 30_000, async () => {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      const after = doc.getText();
      return after !== before ? after.slice(before.length) : undefined;
    });
    assert.ok(accepted.trim().length > 0, `accepted ${JSON.stringify(accepted)}`);
  });
});
