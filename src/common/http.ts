// GET over node:http/https (not fetch): VS Code's proxy support (http.proxy, system proxies) patches these
// modules in the extension host, so a download behind a corporate proxy works as it does for other extensions.
// Shared by the Node.js runtime download (src/host/runtime) and the model download (src/models/hubDownload.ts).
// Failures are TransferErrors: each caller maps them to its own typed error, with its own hint, at its boundary.

import http from 'node:http';
import https from 'node:https';
import { CancelledError } from './errors';

export type TransferFailure =
  | 'offline' // DNS failure, connection refused or reset, network unreachable
  | 'not-found' // HTTP 404 (or the listing has no such file)
  | 'http' // any other HTTP status
  | 'stalled' // no bytes for idleTimeoutMs
  | 'interrupted' // the connection dropped mid-body (the partial file is kept for resuming)
  | 'checksum' // SHA-256 differs from the expected one (the file is deleted)
  | 'busy'; // another process holds the download's lock file

/** A failed transfer; `detail` is one sentence without the URL (the caller's error message adds it). */
export class TransferError extends Error {
  constructor(readonly failure: TransferFailure, readonly url: string, readonly detail: string, options?: { cause?: unknown }) {
    super(`${url}: ${detail}`, options);
    this.name = 'TransferError';
  }
}

export interface GetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Fail with 'stalled' when the socket is idle this long (connect, headers or body). */
  idleTimeoutMs: number;
}

const OFFLINE_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE',
]);
const MAX_REDIRECTS = 5;

/** Resolves with the response once its headers arrive (status 2xx/3xx followed, others returned as is). */
export async function httpGet(url: string, options: GetOptions): Promise<http.IncomingMessage> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await getOnce(current, url, options);
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
      res.resume();
      current = new URL(location, current).toString();
      continue;
    }
    return res;
  }
  throw new TransferError('http', url, `more than ${MAX_REDIRECTS} redirects`);
}

function getOnce(url: string, originalUrl: string, options: GetOptions): Promise<http.IncomingMessage> {
  if (options.signal?.aborted) return Promise.reject(new CancelledError());
  const u = new URL(url);
  const client = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new TransferError('http', originalUrl, `unsupported protocol ${u.protocol}`));
  return new Promise((resolve, reject) => {
    const req = client.get(u, { headers: { 'user-agent': 'tandem-vscode', ...options.headers }, signal: options.signal });
    let response: http.IncomingMessage | undefined;
    // The socket's idle timer covers connect, headers and body; mid-body the reader sees the error on `res`.
    req.setTimeout(options.idleTimeoutMs, () => {
      const stalled = new TransferError('stalled', originalUrl, `no data for ${options.idleTimeoutMs} ms`);
      if (response) response.destroy(stalled);
      req.destroy(stalled);
    });
    req.on('response', (res) => {
      response = res;
      resolve(res);
    });
    req.on('error', (e) => reject(toTransferError(e, originalUrl, options.signal)));
  });
}

/** Maps a socket or stream error to what the user should hear: cancelled, offline, stalled, interrupted. */
export function toTransferError(e: unknown, url: string, signal?: AbortSignal, midBody = false): Error {
  if (signal?.aborted) return new CancelledError();
  if (e instanceof TransferError || e instanceof CancelledError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.name === 'AbortError') return new CancelledError();
  const code = err?.code ?? '';
  if (midBody) {
    return new TransferError('interrupted', url, `connection lost mid-download (${code || err?.message})`, { cause: e });
  }
  if (OFFLINE_CODES.has(code)) {
    const host = safeHost(url);
    return new TransferError('offline', url, `cannot reach ${host} (${code}): no network connection?`, { cause: e });
  }
  return new TransferError('http', url, err?.message ?? String(e), { cause: e });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Reads a small text body (SHASUMS256.txt is ~4 KB, a hub file listing a few KB), refusing anything over `limitBytes`. */
export async function readText(res: http.IncomingMessage, url: string, limitBytes: number, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limitBytes) {
        res.destroy();
        throw new TransferError('http', url, `response larger than ${limitBytes} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    throw toTransferError(e, url, signal, true);
  }
  return Buffer.concat(chunks).toString('utf8');
}
