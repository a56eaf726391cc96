// Downloads an official Node.js build into the storage dir:
//   SHASUMS256.txt → archive streamed to node/.downloads/<name>.partial (resumed with a Range request after a
//   dropped connection) → SHA-256 checked against SHASUMS256.txt (a mismatch deletes the file) → `tar -xf`
//   into node/.extract-XXXX → rename to node/<dirName> (atomic: a half-unpacked build is never visible).
// A cancel (AbortSignal) deletes the partial file: nothing is left behind. A lock file keeps two editor
// windows from writing the same partial file. The resumed, hashed transfer and the lock are the shared
// src/common/download.ts (also used for models); this file adds the release layout, tar and the errors.
//
// Extraction uses the system tar (GNU tar with xz on Linux, bsdtar on macOS, and Windows 10+'s
// System32\tar.exe, which is bsdtar and reads .zip): no npm dependency for xz/zip, and tar keeps file modes.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, downloadVerified } from '../../common/download';
import { CancelledError } from '../../common/errors';
import { httpGet, readText, TransferError } from '../../common/http';
import { RuntimeDownloadError } from './errors';
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
  let release: () => void;
  try {
    release = acquireLock(`${partial}.lock`, dist.archiveUrl);
  } catch (e) {
    throw asRuntimeError(e);
  }
  try {
    const expected = await fetchChecksum(dist, opts);
    await downloadVerified({
      url: dist.archiveUrl, partialPath: partial, expectedSha256: expected, expectedFrom: 'SHASUMS256.txt',
      signal: opts.signal, onProgress: opts.onProgress, idleTimeoutMs: opts.idleTimeoutMs, maxAttempts: opts.maxAttempts,
    });
    opts.onProgress?.({ phase: 'extract', bytesDone: 0, bytesTotal: undefined });
    await extract(partial, dist, root, opts.signal);
    return installed;
  } catch (e) {
    // A cancel leaves nothing; a dropped connection keeps the partial file so the next call resumes.
    if (e instanceof CancelledError) rmSync(partial, { force: true });
    throw asRuntimeError(e);
  } finally {
    release();
  }
}

/** A shared transfer's failure, told as a Node.js download's (with the runtime hints). */
function asRuntimeError(e: unknown): unknown {
  return e instanceof TransferError ? new RuntimeDownloadError(e.failure, e.url, e.detail, { cause: e }) : e;
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
