// One streaming HTTP POST on node:http/https: the body comes back as an async iterable of chunks, an
// AbortSignal destroys the socket (so the server sees the client go and stops generating), silence on the
// socket for `idleTimeoutMs` (no headers, or no next chunk) ends it with a typed timeout, and failures are
// RemoteErrors. node:http rather than fetch: inside VS Code's extension host these modules are the ones
// patched to follow the user's proxy settings (http.proxy, http.proxyStrictSSL, http.noProxy).

import * as http from 'node:http';
import * as https from 'node:https';
import { closedMidStream, httpError, RemoteError, timedOut, unreachable } from './errors';

export interface PostOptions {
  url: URL;
  json: unknown;
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Longest silence on the socket before giving up (waiting for headers, or between two chunks). */
  idleTimeoutMs: number;
  agent?: http.Agent;
}

export interface StreamingResponse {
  status: number;
  contentType: string;
  /** The body; iterating it throws a RemoteError when the connection drops or goes silent. */
  body: AsyncIterable<Buffer>;
  /** Destroys the connection (the caller stops early: a stop rule, the time budget). */
  close(): void;
}

/** True for hosts where a plain-HTTP API key cannot be overheard (this machine). */
export function isLoopback(url: URL): boolean {
  const h = url.hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** Agents with keep-alive for one server: repeated completions reuse a connection instead of a new TCP
 *  (and TLS) handshake per keystroke. Idle sockets close after `freeSocketTimeoutMs`. */
export function createAgents(maxSockets = 8): { http: http.Agent; https: https.Agent; destroy(): void } {
  const o = { keepAlive: true, maxSockets, timeout: 30_000 };
  const a = { http: new http.Agent(o), https: new https.Agent(o) };
  return { ...a, destroy: () => { a.http.destroy(); a.https.destroy(); } };
}

/** Retry-After as milliseconds (seconds or an HTTP date), capped at 60 s. */
export function parseRetryAfter(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const secs = Number(s);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(s) - Date.now();
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

export function postStreaming(o: PostOptions): Promise<StreamingResponse> {
  const { url } = o;
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new RemoteError('REMOTE_CONFIG', `unsupported URL scheme '${url.protocol}' in ${url.href}`, 'Use an http:// or https:// URL.'));
  const payload = JSON.stringify(o.json);
  const where = url.origin;
  return new Promise<StreamingResponse>((resolve, reject) => {
    let failure: RemoteError | undefined;
    const req = mod.request(url, {
      method: 'POST',
      agent: o.agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream, application/x-ndjson, application/json', 'content-length': Buffer.byteLength(payload), ...o.headers },
      signal: o.signal,
    });
    // Socket inactivity: before the headers and between body chunks alike.
    req.setTimeout(o.idleTimeoutMs, () => {
      failure = timedOut(where, 'sent nothing', o.idleTimeoutMs);
      req.destroy(failure);
    });
    req.on('error', (e) => {
      if (o.signal.aborted) reject(o.signal.reason ?? e);
      else reject(failure ?? unreachable(where, e));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        // The start of the body explains the error; the rest is not worth waiting for.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => { if (text.length < 4096) text += s; });
        const done = () => reject(httpError(url.href, status, text, parseRetryAfter(res.headers['retry-after'])));
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
        return;
      }
      async function* body(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of res) yield chunk as Buffer;
        } catch (e) {
          if (o.signal.aborted) throw o.signal.reason ?? e;
          throw failure ?? closedMidStream(where, e);
        }
        // A body that ended without its terminating chunk: the server went away.
        if (!res.complete && !o.signal.aborted) throw failure ?? closedMidStream(where);
      }
      resolve({ status, contentType: String(res.headers['content-type'] ?? ''), body: body(), close: () => req.destroy() });
    });
    req.end(payload);
  });
}
