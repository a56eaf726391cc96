// Which Node.js runs the engine process. Not Electron (desktop VS Code's extension host): dawn.node's
// buffer mapping fails there. Until the runtime selector (src/host/runtime, issue 8) lands: this process's
// own runtime when it is plain Node (code-server, tests, the CLI), else a configured path, else `node` on PATH.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TandemError } from '../../common/errors';

export class NodeRuntimeNotFoundError extends TandemError {
  readonly code = 'USAGE';
  constructor() {
    super('no Node.js runtime found for the engine process (VS Code\'s own runtime is Electron, which cannot run WebGPU readback)',
      'Install Node.js 20 or newer, or set "tandem.nodePath" to its executable.');
  }
}

export function findNodeRuntime(configured = ''): string {
  if (configured) return configured;
  if (!process.versions.electron) return process.execPath;
  const names = process.platform === 'win32' ? ['node.exe'] : ['node'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const n of names) {
      const p = join(dir, n);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  throw new NodeRuntimeNotFoundError();
}
