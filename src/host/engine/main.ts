// Entry point of the engine process (dist/engine.js), started by EngineClient with child_process.fork.
// It must run on a real Node.js runtime: dawn.node cannot map buffers for readback inside Electron.
// It exits when the extension host goes away (the IPC channel closes).

import { EngineServer, toWire } from './server';
import type { EngineEvent, EngineRequest } from './protocol';

function send(e: EngineEvent): void {
  if (process.connected) process.send!(e);
}

if (!process.send) {
  process.stderr.write('tandem engine: start me with child_process.fork (no IPC channel)\n');
  process.exit(2);
}

const server = new EngineServer(send);
process.on('message', (m) => server.handle(m as EngineRequest));
process.on('disconnect', () => {
  server.disposeAll();
  process.exit(0);
});
process.on('uncaughtException', (e) => {
  send({ type: 'log', level: 'error', message: `engine crashed: ${toWire(e).message}` });
  process.exit(70);
});
send({ type: 'started', pid: process.pid, node: process.version });
