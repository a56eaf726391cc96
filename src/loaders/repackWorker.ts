// Entry point of a repack worker thread (dist/repackWorker.js, started by RepackPool): splits GGUF blocks
// into the kernels' layouts (repack.ts) off the loading thread, so a model's repack runs on every core
// while the loading thread reads the file and writes to the GPU.

import { parentPort } from 'node:worker_threads';
import { repackBlocks } from './repack';
import type { RepackReply, RepackRequest, Span } from './repackProtocol';

if (!parentPort) throw new Error('repackWorker.js runs as a worker thread (see RepackPool)');
const port = parentPort;
const view = (s: Span) => new Uint8Array(s.buffer, s.offset, s.length);

port.on('message', (job: RepackRequest) => {
  const reply: RepackReply = { id: job.id };
  try {
    repackBlocks(job.dtype, view(job.src), view(job.data), view(job.scales));
  } catch (e) {
    reply.error = e instanceof Error ? e.message : String(e);
  }
  port.postMessage(reply);
});
