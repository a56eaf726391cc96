// Downloads an official Node.js build into the storage dir:
//   SHASUMS256.txt → archive streamed to node/.downloads/<name>.partial (resumed with a Range request after a
//   dropped connection) → SHA-256 checked against SHASUMS256.txt (a mismatch deletes the file) → `tar -xf`
//   into node/.extract-XXXX → rename to node/<dirName> (atomic: a half-unpacked build is never visible).
// A cancel (AbortSignal) deletes the partial file: nothing is left behind. A lock file keeps two editor
// windows from writing the same partial file.
//
// Extraction uses the system tar (GNU tar with xz on Linux, bsdtar on macOS, and Windows 10+'s
// System32\tar.exe, which is bsdtar and reads .zip): no npm dependency for xz/zip, and tar keeps file modes.

import { spawn } from 'node:child_process';
import { createHash, Hash } from 'node:crypto';
import {
  createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, WriteStream, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { CancelledError } from '../../common/errors';
import { RuntimeDownloadError } from './errors';
import { httpGet, readText, toDownloadError } from './http';
import { ArchiveFormat, findChecksum, InstalledRuntime, NodeDistribution, nodeDistribution, runtimesDir } from './nodeDist';

export interface DownloadProgress {
  phase: 'checksums' | 'download' | 'verify' | 'extract';
  bytesDone: number;
  /** From Content-Length / Content-Range; undefined when the server does not say. */
  bytesTotal: number | undefined;
}

export interface DownloadNodeOptions {
  storageDir: string;
  version?: string;
  /** Default https://nodejs.org/dist; a mirror or a test server with the same layout. */
  baseUrl?: string;
  platform?: string;
  arch?: string;
  format?: ArchiveFormat;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  idleTimeoutMs?: number;
  /** Tries per call when the connection drops mid-body; each try resumes from the partial file. */
  maxAttempts?: number;
}

const SHASUMS_LIMIT_BYTES = 1 << 20;
const STALE_EXTRACT_MS = 60 * 60 * 1000;

/** Downloads, verifies and unpacks one build; returns it (at once when it is already installed). */
export async function downloadNodeRuntime(opts: DownloadNodeOptions): Promise<InstalledRuntime> {
  const dist = nodeDistribution(opts);
  const root = runtimesDir(opts.storageDir);
  const installed = { version: dist.version, dir: join(root, dist.dirName), binPath: join(root, dist.dirName, dist.binRelPath) };
  if (existsSync(installed.binPath)) return installed;
  if (opts.signal?.aborted) throw new CancelledError();

  const downloads = join(root, '.downloads');
  mkdirSync(downloads, { recursive: true });
  const partial = join(downloads, `${dist.archiveName}.partial`);
  const release = acquireLock(`${partial}.lock`, dist.archiveUrl);
  try {
    const expected = await fetchChecksum(dist, opts);
    await fetchArchive(dist, partial, expected, opts);
    opts.onProgress?.({ phase: 'extract', bytesDone: 0, bytesTotal: undefined });
    await extract(partial, dist, root, opts.signal);
    return installed;
  } catch (e) {
    // A cancel leaves nothing; a dropped connection keeps the partial file so the next call resumes.
    if (e instanceof CancelledError) rmSync(partial, { force: true });
    throw e;
  } finally {
    release();
  }
}

async function fetchChecksum(dist: NodeDistribution, opts: DownloadNodeOptions): Promise<string> {
  opts.onProgress?.({ phase: 'checksums', bytesDone: 0, bytesTotal: undefined });
  const url = dist.shasumsUrl;
  const res = await httpGet(url, { signal: opts.signal, idleTimeoutMs: opts.idleTimeoutMs ?? 30_000 });
  if (res.statusCode === 404) {
    res.resume();
    throw new RuntimeDownloadError('not-found', url, `HTTP 404: no Node.js v${dist.version} there`);
  }
  if (res.statusCode !== 200) {
    res.resume();
    throw new RuntimeDownloadError('http', url, `HTTP ${res.statusCode}`);
  }
  const text = await readText(res, url, SHASUMS_LIMIT_BYTES, opts.signal);
  const sha = findChecksum(text, dist.archiveName);
  if (!sha) throw new RuntimeDownloadError('not-found', url, `SHASUMS256.txt lists no ${dist.archiveName} (no build for this platform?)`);
  return sha;
}

async function fetchArchive(dist: NodeDistribution, partial: string, expectedSha: string, opts: DownloadNodeOptions): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? 3;
  let restartedAfterMismatch = false;
  for (let attempt = 1; ; attempt++) {
    let got: { sha256: string; resumed: boolean };
    try {
      got = await downloadOnce(dist.archiveUrl, partial, opts);
    } catch (e) {
      const retriable = e instanceof RuntimeDownloadError && (e.failure === 'interrupted' || e.failure === 'stalled');
      if (retriable && attempt < maxAttempts) continue;
      throw e;
    }
    opts.onProgress?.({ phase: 'verify', bytesDone: sizeOf(partial), bytesTotal: sizeOf(partial) });
    if (got.sha256 === expectedSha) return;
    rmSync(partial, { force: true });
    // A resumed file may have been damaged before the resume; one clean restart before blaming the server.
    if (got.resumed && !restartedAfterMismatch) {
      restartedAfterMismatch = true;
      continue;
    }
    throw new RuntimeDownloadError('checksum', dist.archiveUrl,
      `SHA-256 is ${got.sha256 || '(none)'}, SHASUMS256.txt says ${expectedSha}; the file was deleted`);
  }
}

/** One GET of the archive, appended to the partial file when the server honours the Range request. */
async function downloadOnce(url: string, partial: string, opts: DownloadNodeOptions): Promise<{ sha256: string; resumed: boolean }> {
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
    res.resume(); // the partial file is already as long as (or longer than) the archive
    return { sha256: '', resumed: true };
  } else {
    res.resume();
    if (res.statusCode === 404) throw new RuntimeDownloadError('not-found', url, 'HTTP 404');
    throw new RuntimeDownloadError('http', url, `HTTP ${res.statusCode}`);
  }

  let bytesDone = offset;
  opts.onProgress?.({ phase: 'download', bytesDone, bytesTotal: total });
  // Not stream.pipeline: on a body error it would drop bytes still buffered for the file, and those bytes
  // are what the next call resumes from. Here every received chunk reaches the disk before we give up, and
  // the file is closed before we return or throw: nothing writes to it after this call, so the next call
  // (or the retry below, or the cancel's delete) sees every byte and never appends behind a pending write.
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
  if (writeError) throw new RuntimeDownloadError('interrupted', url, `cannot write ${partial}: ${writeError.message}`, { cause: writeError });
  if (bodyError !== undefined) throw toDownloadError(bodyError, url, opts.signal, true);
  const onDisk = sizeOf(partial);
  if (onDisk !== bytesDone) {
    // The hash covers bytesDone bytes; a file of another length is not what was hashed. A retry hashes the file anew.
    throw new RuntimeDownloadError('interrupted', url, `${partial} holds ${onDisk} bytes, ${bytesDone} were written`);
  }
  if (total !== undefined && bytesDone !== total) {
    throw new RuntimeDownloadError('interrupted', url, `got ${bytesDone} of ${total} bytes`);
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

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function extract(archive: string, dist: NodeDistribution, root: string, signal?: AbortSignal): Promise<void> {
  removeStaleExtractDirs(root);
  const tmp = mkdtempSync(join(root, '.extract-'));
  try {
    await runTar(['-xf', archive, '-C', tmp], dist.archiveUrl, signal);
    const unpacked = join(tmp, dist.dirName);
    if (!existsSync(join(unpacked, dist.binRelPath))) {
      throw new RuntimeDownloadError('extract', dist.archiveUrl, `the archive holds no ${dist.dirName}/${dist.binRelPath}`);
    }
    try {
      renameSync(unpacked, join(root, dist.dirName));
    } catch (e) {
      // Another window finished the same build first: theirs is as good as ours.
      if (!existsSync(join(root, dist.dirName, dist.binRelPath))) {
        throw new RuntimeDownloadError('extract', dist.archiveUrl, `cannot move the build into place: ${(e as Error).message}`);
      }
    }
    rmSync(archive, { force: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function tarCommand(): string {
  // On Windows, a Git-for-Windows GNU tar earlier on PATH cannot read .zip and takes "C:" for a host name.
  if (process.platform === 'win32') return join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'tar.exe');
  return 'tar';
}

function runTar(args: string[], url: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const child = spawn(tarCommand(), args, { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true, signal });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (signal?.aborted) return reject(new CancelledError());
      reject(new RuntimeDownloadError('extract', url, `cannot run tar (${e.code ?? e.message})`, { cause: e }));
    });
    child.on('close', (code) => {
      if (signal?.aborted) return reject(new CancelledError());
      if (code === 0) return resolve();
      const hint = /xz/i.test(stderr) ? ' (is xz installed?)' : '';
      reject(new RuntimeDownloadError('extract', url, `tar exited with ${code}${hint}: ${stderr.trim().slice(-300)}`));
    });
  });
}

function removeStaleExtractDirs(root: string): void {
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.extract-')) continue;
    const p = join(root, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > STALE_EXTRACT_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      /* gone already */
    }
  }
}

/** An exclusive lock file holding our pid; a lock whose process is gone is stale and taken over. */
function acquireLock(file: string, url: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0 && isAlive(pid)) throw new RuntimeDownloadError('busy', url, `process ${pid} is already downloading it`);
      rmSync(file, { force: true });
    }
  }
  throw new RuntimeDownloadError('busy', url, `cannot take the lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
