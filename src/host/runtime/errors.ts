// Typed results and errors of choosing a Node.js runtime for the engine process. A rejected candidate is
// a value (`Rejection`), not an exception: selection goes on to the next one and the caller shows the list.
// Only "nothing usable at all" and a failed download are thrown.
//
// Both are TandemErrors (codes NODE_RUNTIME_UNAVAILABLE, NODE_RUNTIME_DOWNLOAD), so the status bar, the
// engine client and the CLI show them with their hint like any other typed error.

import { TandemError } from '../../common/errors';
import type { TransferFailure } from '../../common/http';

/** Where a candidate came from, in the order selection tries them. */
export type RuntimeSource = 'setting' | 'path' | 'host' | 'storage' | 'download';

export type RejectReason =
  | 'not-found' // the path does not exist
  | 'not-executable' // spawn failed (EACCES, ENOEXEC, not a program)
  | 'electron' // the self-test reports process.versions.electron
  | 'electron-host' // the current process is Electron and the candidate is its own binary
  | 'too-old' // Node.js < 20
  | 'wrong-platform' // platform or architecture differs from this machine's
  | 'crashed' // exited without a report
  | 'timeout' // no report within the time limit
  | 'bad-output' // printed something that is not a self-test report
  | 'webgpu-load-failed' // the `webgpu` package (dawn.node) could not be loaded
  | 'webgpu-map-failed' // a 4-byte buffer could not be mapped and read back (Electron: external buffers)
  | 'download-failed'; // the download step failed (see the RuntimeDownloadError in `cause`)

export interface Rejection {
  source: RuntimeSource;
  /** The candidate as given (a setting value, a PATH entry, a storage folder's binary). */
  path: string;
  reason: RejectReason;
  /** One sentence for a person: what was found, e.g. "reports Node.js v18.20.0; Tandem needs 20 or newer". */
  detail: string;
  cause?: Error;
}

export function describeRejection(r: Rejection): string {
  return `${r.source} ${r.path}: ${r.detail}`;
}

/** No candidate passed. `rejected` says why each one failed, in the order they were tried. */
export class NoNodeRuntimeError extends TandemError {
  readonly code = 'NODE_RUNTIME_UNAVAILABLE';
  declare readonly hint: string;
  constructor(readonly rejected: Rejection[], downloadAllowed: boolean) {
    const lines = rejected.length ? rejected.map((r) => '  - ' + describeRejection(r)).join('\n') : '  (no candidates)';
    super(`no usable Node.js runtime (>= 20, not Electron) for the engine:\n${lines}`, downloadAllowed
      ? 'Install Node.js 20 or newer, or set tandem.nodePath to its binary.'
      : 'Install Node.js 20 or newer, set tandem.nodePath to its binary, or allow Tandem to download one (tandem.nodeDownload).');
  }
}

/** The shared transfer's failures (offline, not-found, http, stalled, interrupted, checksum, busy; see
 *  src/common/http.ts), and tar failing or the archive not holding a Node.js build. */
export type DownloadFailure = TransferFailure | 'extract';

export class RuntimeDownloadError extends TandemError {
  readonly code = 'NODE_RUNTIME_DOWNLOAD';
  declare readonly hint: string;
  constructor(readonly failure: DownloadFailure, readonly url: string, detail: string, options?: { cause?: unknown }) {
    super(`downloading Node.js from ${url}: ${detail}`, HINTS[failure], options);
  }
}

const HINTS: Record<DownloadFailure, string> = {
  offline: 'You appear to be offline or behind a proxy: check the connection (or http.proxy), or install Node.js 20+ and set tandem.nodePath.',
  'not-found': 'The Node.js release site has no such file: check the version and download URL settings.',
  http: 'The download server refused the request; try again later or install Node.js 20+ and set tandem.nodePath.',
  stalled: 'The download stopped making progress; try again (it resumes where it stopped).',
  interrupted: 'The connection dropped; try again (it resumes where it stopped).',
  checksum: 'The downloaded file was corrupt and has been deleted; try again.',
  extract: 'The archive could not be unpacked; check free disk space, or install Node.js 20+ and set tandem.nodePath.',
  busy: 'Another VS Code window is downloading Node.js; wait for it to finish.',
};
