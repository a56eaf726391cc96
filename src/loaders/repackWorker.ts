// Entry point of a repack worker thread (dist/repackWorker.js, started by RepackPool): splits GGUF blocks
// into the kernels' layouts (repack.ts), or reads rows and requantizes them (requantize.ts), off the
// loading thread, so a model's load uses every core while the loading thread writes to the GPU.

import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { repackBlocks } from './repack';
import { ggmlRowBytes, requantizeStep, requantizeSteps } from './quant/requantize';
import type { PoolReply, PoolRequest, RequantizeRequest, Span } from './repackProtocol';

if (!parentPort) throw new Error('repackWorker.js runs as a worker thread (see RepackPool)');
const port = parentPort;
const view = (s: Span) => new Uint8Array(s.buffer, s.offset, s.length);

class FileEnded extends Error {}

/** One step's raw rows, reused across jobs. */
let scratch = new Uint8Array(0);

function requantize(job: RequantizeRequest): void {
  const srcRowBytes = ggmlRowBytes(job.from, job.cols, job.tensor);
  const outRowBytes = ggmlRowBytes(job.to, job.cols, job.tensor);
  const out = view(job.out);
  const fd = openSync(job.path, 'r');
  try {
    for (const step of requantizeSteps(job.cols, job.rows, job.stepElements)) {
      const bytes = step.rows * srcRowBytes;
      if (scratch.byteLength < bytes) scratch = new Uint8Array(bytes);
      const raw = scratch.subarray(0, bytes);
      const at = job.fileOffset + step.row * srcRowBytes;
      for (let got = 0; got < bytes;) {
        const n = readSync(fd, raw, got, bytes - got, at + got);
        if (n === 0) throw new FileEnded(`file ended at byte ${at + got} (was it truncated after opening?)`);
        got += n;
      }
      requantizeStep(job.from, job.to, raw, step.rows * job.cols, out.subarray(step.row * outRowBytes, (step.row + step.rows) * outRowBytes), job.tensor);
    }
  } finally {
    closeSync(fd);
  }
}

port.on('message', (job: PoolRequest) => {
  const reply: PoolReply = { id: job.id };
  try {
    if (job.kind === 'repack') repackBlocks(job.dtype, view(job.src), view(job.data), view(job.scales));
    else requantize(job);
  } catch (e) {
    reply.error = e instanceof Error ? e.message : String(e);
    if (e instanceof FileEnded && job.kind === 'requantize') reply.formatField = `tensor.${job.tensor}`;
  }
  port.postMessage(reply);
});
