// Activation: builds the objects of src/vscode and wires them; no logic here.
// The completion provider, commands and settings come with the extension issue (#6).
import type * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {}

export function deactivate(): void {}
