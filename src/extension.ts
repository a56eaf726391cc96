// Activation: builds the objects of src/vscode and wires them; no logic here.
import type * as vscode from 'vscode';
import { registerCommands } from './vscode/commands';
import { TandemController } from './vscode/controller';

export function activate(context: vscode.ExtensionContext): { controller: TandemController } {
  const controller = new TandemController(context);
  context.subscriptions.push(controller, ...registerCommands(controller));
  // Returned for the extension tests (vscode.extensions.getExtension(...).exports).
  return { controller };
}

export function deactivate(): void {}
