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

// TANDEM_PREFILL_REPORT_MS="after,every" (ms): when a prefill's progress is reported (tests set 0,0 to
// see every pass of stories260K's quick prefills); default protocol.ts's PREFILL_REPORT_* constants.
const [afterMs, everyMs] = (process.env.TANDEM_PREFILL_REPORT_MS ?? '').split(',').map((x) => {
  const ms = Number(x);
  return x.trim() !== '' && ms >= 0 ? ms : undefined;
});
const server = new EngineServer(send, { afterMs, everyMs });
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
