// One file over HTTP into a partial file, resumed and verified:
//   GET url (Range: bytes=<partial size>- when a partial file exists) → appended to `partialPath`, hashed as
//   it streams → SHA-256 compared with the expected one → the caller renames the partial file into place.
// A dropped or stalled connection is retried (each try resumes); a mismatch deletes the file, and a file
// that was resumed gets one clean restart before the server is blamed. A cancel (AbortSignal) rejects with
// CancelledError and leaves the partial file as it is: the caller decides whether to keep it for a resume
// (models: gigabytes) or delete it (Node.js builds: tens of MB). Used by src/host/runtime (Node.js builds)
// and src/models/hubDownload.ts (GGUF models); editor-independent.

import { createHash, Hash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, rmSync, statSync, WriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { httpGet, toTransferError, TransferError } from './http';

export interface TransferProgress {
  phase: 'download' | 'verify';
  bytesDone: number;
  /** From Content-Length / Content-Range; undefined when the server does not say. */
  bytesTotal: number | undefined;
}

export interface VerifiedDownloadOptions {
  url: string;
  /** Where the bytes land (and are resumed from); holds the verified file when the call resolves. */
  partialPath: string;
  /** Lower-case hex. */
  expectedSha256: string;
  /** Where the expected hash came from, for the mismatch message ("SHASUMS256.txt", "the hub"). */
  expectedFrom: string;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
  /** Fail with 'stalled' when the socket is idle this long. Default 30 s. */
  idleTimeoutMs?: number;
  /** Tries per call when the connection drops mid-body; each try resumes from the partial file. Default 3. */
  maxAttempts?: number;
}

/** Downloads (or finishes downloading) `url` into `partialPath` and checks its SHA-256. */
export async function downloadVerified(opts: VerifiedDownloadOptions): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? 3;
  let restartedAfterMismatch = false;
  for (let attempt = 1; ; attempt++) {
    let got: { sha256: string; resumed: boolean };
    try {
      got = await downloadOnce(opts);
    } catch (e) {
      const retriable = e instanceof TransferError && (e.failure === 'interrupted' || e.failure === 'stalled');
      if (retriable && attempt < maxAttempts) continue;
      throw e;
    }
    opts.onProgress?.({ phase: 'verify', bytesDone: sizeOf(opts.partialPath), bytesTotal: sizeOf(opts.partialPath) });
    if (got.sha256 === opts.expectedSha256) return;
    rmSync(opts.partialPath, { force: true });
    // A resumed file may have been damaged (or be another revision) before the resume: one clean restart.
    if (got.resumed && !restartedAfterMismatch) {
      restartedAfterMismatch = true;
      continue;
    }
    throw new TransferError('checksum', opts.url,
      `SHA-256 is ${got.sha256 || '(none)'}, ${opts.expectedFrom} says ${opts.expectedSha256}; the file was deleted`);
  }
}

/** One GET, appended to the partial file when the server honours the Range request. */
async function downloadOnce(opts: VerifiedDownloadOptions): Promise<{ sha256: string; resumed: boolean }> {
  const { url, partialPath: partial } = opts;
  const start = sizeOf(partial);
  let hash = createHash('sha256');
  if (start > 0) await hashFile(partial, hash);
  const res = await httpGet(url, {
    signal: opts.signal,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    headers: start > 0 ? { range: `bytes=${start}-` } : {},
  });
  let offset: number;
  let total: number | undefined;
  if (res.statusCode === 206 && start > 0) {
    offset = start;
    const m = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
    total = m ? Number(m[1]) : undefined;
  } else if (res.statusCode === 200) {
    offset = 0; // the server ignored the range: start over
    hash = createHash('sha256');
    total = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
  } else if (res.statusCode === 416) {
    res.resume(); // the partial file is already as long as (or longer than) the file
    return { sha256: start > 0 ? hash.digest('hex') : '', resumed: true };
  } else {
    res.resume();
    if (res.statusCode === 404) throw new TransferError('not-found', url, 'HTTP 404');
    throw new TransferError('http', url, `HTTP ${res.statusCode}`);
  }

  let bytesDone = offset;
  opts.onProgress?.({ phase: 'download', bytesDone, bytesTotal: total });
  // Not stream.pipeline: on a body error it would drop bytes still buffered for the file, and those bytes
  // are what the next call resumes from. Here every received chunk reaches the disk before we give up, and
  // the file is closed before we return or throw: nothing writes to it after this call, so the next call
  // (or the retry, or a cancel's delete) sees every byte and never appends behind a pending write.
  const out = createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' });
  let writeError: Error | undefined;
  out.on('error', (e) => (writeError ??= e));
  let bodyError: unknown;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytesDone += chunk.length;
      opts.onProgress?.({ phase: 'download', bytesDone, bytesTotal: total });
      if (!out.write(chunk)) await once(out, 'drain');
      if (writeError) break;
    }
  } catch (e) {
    bodyError = e;
  } finally {
    await closeFile(out, writeError !== undefined);
  }
  // writeError is read after the close: a write that fails while end() flushes counts too.
  if (writeError) throw new TransferError('interrupted', url, `cannot write ${partial}: ${writeError.message}`, { cause: writeError });
  if (bodyError !== undefined) throw toTransferError(bodyError, url, opts.signal, true);
  const onDisk = sizeOf(partial);
  if (onDisk !== bytesDone) {
    // The hash covers bytesDone bytes; a file of another length is not what was hashed. A retry hashes the file anew.
    throw new TransferError('interrupted', url, `${partial} holds ${onDisk} bytes, ${bytesDone} were written`);
  }
  if (total !== undefined && bytesDone !== total) {
    throw new TransferError('interrupted', url, `got ${bytesDone} of ${total} bytes`);
  }
  return { sha256: hash.digest('hex'), resumed: offset > 0 };
}

/**
 * Ends the stream (destroys it after a write error) and resolves once its file descriptor is closed, so
 * every accepted write has landed and the file may be stat'ed, hashed, appended to or deleted. Never rejects:
 * errors reach the stream's 'error' listener.
 */
function closeFile(out: WriteStream, destroy: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    if (destroy) out.destroy();
    else out.end();
  });
}

async function hashFile(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

export function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * An exclusive lock file holding our pid, so two editor windows never write the same partial file; a lock
 * whose process is gone is stale and taken over. Returns the release function.
 */
export function acquireLock(file: string, url: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0 && isAlive(pid)) throw new TransferError('busy', url, `process ${pid} is already downloading it`);
      rmSync(file, { force: true });
    }
  }
  throw new TransferError('busy', url, `cannot take the lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Transfer rate over a sliding window (the last `windowMs`), for "12.3 MB/s, 2 min left". Feed it
 * (bytesDone, nowMs) samples; a resumed download's first sample sets the start, so the rate counts only
 * bytes moved in this session.
 */
export class TransferMeter {
  private readonly samples: Array<{ bytes: number; ms: number }> = [];
  constructor(private readonly windowMs = 5_000) {}

  sample(bytesDone: number, nowMs: number): void {
    this.samples.push({ bytes: bytesDone, ms: nowMs });
    // Keep one sample at or before the window's start so the window is always covered.
    while (this.samples.length > 2 && nowMs - this.samples[1].ms >= this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 before two samples some time apart. */
  bytesPerS(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    return b.ms > a.ms ? ((b.bytes - a.bytes) * 1000) / (b.ms - a.ms) : 0;
  }

  /** Seconds left at the current rate; undefined when the total or the rate is unknown. */
  etaS(bytesTotal: number | undefined): number | undefined {
    const rate = this.bytesPerS();
    if (bytesTotal === undefined || rate <= 0 || !this.samples.length) return undefined;
    return Math.max(0, bytesTotal - this.samples[this.samples.length - 1].bytes) / rate;
  }
}

/** "412.0 of 1646.6 MB · 23.4 MB/s · 48 s left" (decimal MB, as download tools and the hub show sizes). */
export function describeTransfer(bytesDone: number, bytesTotal: number | undefined, bytesPerS: number, etaS: number | undefined): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const parts = [bytesTotal !== undefined ? `${mb(bytesDone)} of ${mb(bytesTotal)} MB` : `${mb(bytesDone)} MB`];
  if (bytesPerS > 0) parts.push(`${mb(bytesPerS)} MB/s`);
  if (etaS !== undefined) parts.push(`${formatDuration(etaS)} left`);
  return parts.join(' · ');
}

function formatDuration(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
