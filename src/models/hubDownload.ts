// One GGUF from a Hugging Face style hub into Tandem's models folder, verified:
//   GET <base>/api/models/<repo>/tree/main → the file's entry: lfs.oid (its SHA-256) and lfs.size
//   GET <base>/<repo>/resolve/main/<file>  → <models>/<owner>/<name>/<file>.part (Range-resumed, hashed)
//   SHA-256 equal to lfs.oid → rename to <models>/<owner>/<name>/<file> (atomic: a final name means verified)
// A mismatch deletes the file. A cancel or a dropped connection keeps the .part file: the next download of
// the same file resumes it (models are gigabytes; starting over after a cancel would waste them). A lock
// file keeps two editor windows from writing the same .part. An existing final file is not fetched again,
// and not even listed: only a verified download is ever renamed to that name.
// <base> is tandem.modelDownloadUrl, else $HF_ENDPOINT (huggingface_hub's convention), else huggingface.co.
// No token is sent: the recommended repos are public (a gated repo reads as "not found", with the hint).

import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, downloadVerified, sizeOf } from '../common/download';
import { TandemError, UsageError } from '../common/errors';
import { httpGet, readText, TransferError, type TransferFailure } from '../common/http';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
const LISTING_LIMIT_BYTES = 4 << 20;

export type ModelDownloadFailure = TransferFailure | 'no-checksum';

export class ModelDownloadError extends TandemError {
  readonly code = 'MODEL_DOWNLOAD';
  declare readonly hint: string;
  constructor(readonly failure: ModelDownloadFailure, readonly url: string, detail: string, options?: { cause?: unknown }) {
    super(`downloading a model from ${url}: ${detail}`, HINTS[failure], options);
  }
}

const BY_HAND = 'or download the GGUF by hand and pick it with "Tandem: Select Model"';
const HINTS: Record<ModelDownloadFailure, string> = {
  offline: `You appear to be offline or behind a proxy: check the connection (or http.proxy), set tandem.modelDownloadUrl to a mirror, ${BY_HAND}.`,
  'not-found': `The hub has no such repo or file (or it is private or gated): check tandem.modelDownloadUrl (a mirror needs the Hugging Face layout), ${BY_HAND}.`,
  http: `The server refused the request; try again later, ${BY_HAND}.`,
  stalled: 'The download stopped making progress; run the command again: it resumes where it stopped.',
  interrupted: 'The connection dropped; run the command again: it resumes where it stopped.',
  checksum: 'The downloaded file did not match the SHA-256 the hub lists and has been deleted; try again.',
  busy: 'Another VS Code window is downloading this model; wait for it to finish.',
  'no-checksum': `The hub lists no SHA-256 (LFS object) for this file, so Tandem cannot verify it; ${BY_HAND} if you trust it.`,
};

/** The hub to download from: the setting, else $HF_ENDPOINT, else huggingface.co; no trailing slash. */
export function hubBaseUrl(setting: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return (setting?.trim() || env.HF_ENDPOINT?.trim() || DEFAULT_HUB_URL).replace(/\/+$/, '');
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Where a repo's file lives in the models folder; refuses names that could leave it ("..", slashes). */
export function hubFilePath(modelsDir: string, repo: string, file: string): string {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p) && !p.includes('..'))) throw new UsageError(`not a hub repo name: ${repo}`);
  if (!NAME.test(file) || file.includes('..')) throw new UsageError(`not a file name in a repo: ${file}`);
  return join(modelsDir, parts[0], parts[1], file);
}

export interface HubFileInfo {
  /** Lower-case hex SHA-256 of the file (the LFS object id). */
  sha256: string;
  bytes: number;
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; size?: number };
}

function repoPath(repo: string): string {
  return repo.split('/').map(encodeURIComponent).join('/');
}

/** The SHA-256 and size the hub lists for `file` at the top of `repo`'s main branch. */
export async function hubFileInfo(baseUrl: string, repo: string, file: string, o: { signal?: AbortSignal; idleTimeoutMs?: number } = {}): Promise<HubFileInfo> {
  const url = `${baseUrl}/api/models/${repoPath(repo)}/tree/main`;
  const res = await httpGet(url, { signal: o.signal, idleTimeoutMs: o.idleTimeoutMs ?? 30_000 });
  if (res.statusCode === 404 || res.statusCode === 401) {
    // The hub answers 401 (not 404) for a repo that does not exist when no token is sent.
    res.resume();
    throw new TransferError('not-found', url, `HTTP ${res.statusCode}: no public repo ${repo} there`);
  }
  if (res.statusCode !== 200) {
    res.resume();
    throw new TransferError('http', url, `HTTP ${res.statusCode}`);
  }
  let entries: TreeEntry[];
  try {
    entries = JSON.parse(await readText(res, url, LISTING_LIMIT_BYTES, o.signal)) as TreeEntry[];
    if (!Array.isArray(entries)) throw new Error('not a list');
  } catch (e) {
    if (e instanceof TransferError) throw e;
    throw new TransferError('http', url, `the file listing is not JSON (${(e as Error).message}): is this a Hugging Face style hub?`);
  }
  const entry = entries.find((x) => x.path === file && x.type !== 'directory');
  if (!entry) throw new TransferError('not-found', url, `${repo} has no file ${file}`);
  const sha256 = entry.lfs?.oid?.toLowerCase();
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ModelDownloadError('no-checksum', url, `${repo}/${file} is not an LFS file: the hub lists no SHA-256 for it`);
  }
  return { sha256, bytes: entry.lfs?.size ?? entry.size ?? 0 };
}

export interface HubDownloadProgress {
  phase: 'listing' | 'download' | 'verify';
  bytesDone: number;
  bytesTotal: number | undefined;
}

export interface HubDownloadOptions {
  /** See hubBaseUrl(); default huggingface.co. */
  baseUrl?: string;
  repo: string;
  file: string;
  /** Tandem's models folder (join(cacheRoot(), 'models')). */
  modelsDir: string;
  signal?: AbortSignal;
  onProgress?: (p: HubDownloadProgress) => void;
  idleTimeoutMs?: number;
  /** Tries per call when the connection drops mid-body; each resumes. Default 3. */
  maxAttempts?: number;
}

export interface HubDownloadResult {
  path: string;
  bytes: number;
  /** The file was there already: nothing was fetched (not even the listing). */
  alreadyPresent: boolean;
  /** The verified hash; undefined when alreadyPresent. */
  sha256: string | undefined;
}

/** Downloads one file of a repo (resuming a .part left by an earlier try) and verifies it. */
export async function downloadHubFile(opts: HubDownloadOptions): Promise<HubDownloadResult> {
  const dest = hubFilePath(opts.modelsDir, opts.repo, opts.file);
  if (existsSync(dest)) return { path: dest, bytes: sizeOf(dest), alreadyPresent: true, sha256: undefined };
  const base = hubBaseUrl(opts.baseUrl, {});
  const url = `${base}/${repoPath(opts.repo)}/resolve/main/${encodeURIComponent(opts.file)}`;
  const partial = `${dest}.part`;
  mkdirSync(join(dest, '..'), { recursive: true });
  try {
    const release = acquireLock(`${partial}.lock`, url);
    try {
      opts.onProgress?.({ phase: 'listing', bytesDone: 0, bytesTotal: undefined });
      const info = await hubFileInfo(base, opts.repo, opts.file, opts);
      await downloadVerified({
        url, partialPath: partial, expectedSha256: info.sha256, expectedFrom: 'the hub',
        signal: opts.signal, onProgress: opts.onProgress, idleTimeoutMs: opts.idleTimeoutMs, maxAttempts: opts.maxAttempts,
      });
      renameSync(partial, dest);
      return { path: dest, bytes: sizeOf(dest), alreadyPresent: false, sha256: info.sha256 };
    } finally {
      release();
    }
  } catch (e) {
    throw e instanceof TransferError ? new ModelDownloadError(e.failure, e.url, e.detail, { cause: e }) : e;
  }
}

/** The bytes a .part file holds for this repo file (0 when none): a download would resume from there. */
export function partialBytes(modelsDir: string, repo: string, file: string): number {
  return sizeOf(`${hubFilePath(modelsDir, repo, file)}.part`);
}
