// Chooses the Node.js runtime the engine process runs on. Order:
//   1. setting  the explicit path (tandem.nodePath): a binary, or a folder holding bin/node or node.exe
//   2. path     every `node` on PATH, in PATH order
//   3. host     the current process's own binary, unless it is Electron (code-server's plain Node passes)
//   4. storage  builds downloaded earlier into the storage dir, newest first
//   5. download an official build, when allowed
// Each candidate is run on the self-test (cached per real path + mtime + size) and judged: Node >= 20, this
// machine's platform and architecture, not Electron, and `webgpu` loads and reads a mapped buffer back
// ('no adapter' is accepted: that is the machine's lack, not the runtime's). The first that passes wins;
// the ones before it come back in `rejected`, so the caller can say why the setting was not used.

import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CancelledError } from '../../common/errors';
import { DownloadNodeOptions, DownloadProgress, downloadNodeRuntime } from './download';
import { NoNodeRuntimeError, Rejection, RuntimeDownloadError, RuntimeSource } from './errors';
import { installedRuntimes } from './nodeDist';
import { judgeReport, runSelfTest, SELF_TEST_SCRIPT_HASH } from './selfTest';
import { SelfTestCache } from './selfTestCache';
import { SelfTestReport } from './selfTestScript';

export interface HostProcess {
  execPath: string;
  isElectron: boolean;
  platform: string;
  arch: string;
}

export function currentHost(): HostProcess {
  return {
    execPath: process.execPath,
    isElectron: typeof process.versions.electron === 'string',
    platform: process.platform,
    arch: process.arch,
  };
}

export interface SelectNodeRuntimeOptions {
  /** The tandem.nodePath setting; empty or undefined means unset. */
  explicitPath?: string;
  /** The extension's global storage folder: self-test cache, the script, downloaded builds. */
  storageDir: string;
  /** Folder of the `webgpu` package the engine loads; without it the WebGPU probe is skipped. */
  webgpuPackageDir?: string;
  allowDownload?: boolean;
  /** Version, mirror URL, archive format and timeouts of the download. */
  download?: Omit<DownloadNodeOptions, 'storageDir' | 'signal' | 'onProgress' | 'platform' | 'arch'>;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Per candidate; default 20 s (loading dawn.node and creating a device can take seconds on a cold disk). */
  selfTestTimeoutMs?: number;
  /** The PATH to search; default process.env.PATH. */
  searchPath?: string;
  /** The current process; tests pretend to be Electron or another machine. */
  host?: HostProcess;
  /** One line per candidate and outcome, for an output channel. */
  log?: (line: string) => void;
}

export interface SelectedNodeRuntime {
  source: RuntimeSource;
  /** The candidate as found (may be a shim such as nvm's or volta's). */
  path: string;
  /** The binary the candidate ran as (process.execPath in the self-test): spawn this one. */
  execPath: string;
  version: string;
  webgpu: SelfTestReport['webgpu'];
  report: SelfTestReport;
  fromCache: boolean;
  /** Candidates tried before this one, with the reasons. */
  rejected: Rejection[];
}

interface Candidate {
  source: RuntimeSource;
  path: string;
}

export async function selectNodeRuntime(opts: SelectNodeRuntimeOptions): Promise<SelectedNodeRuntime> {
  const host = opts.host ?? currentHost();
  const cache = new SelfTestCache(opts.storageDir, probeKey(opts.webgpuPackageDir));
  const rejected: Rejection[] = [];
  const tried = new Set<string>();
  const hostReal = realOrSelf(host.execPath);
  const log = opts.log ?? (() => {});

  const check = async (c: Candidate): Promise<SelectedNodeRuntime | undefined> => {
    if (opts.signal?.aborted) throw new CancelledError();
    const reject = (reason: Rejection['reason'], detail: string, cause?: Error) => {
      rejected.push({ source: c.source, path: c.path, reason, detail, cause });
      log(`node runtime: rejected ${c.source} ${c.path}: ${detail}`);
      return undefined;
    };
    if (!existsSync(c.path)) return reject('not-found', 'does not exist');
    const real = realOrSelf(c.path);
    if (tried.has(real)) return undefined; // the same file under another name: already judged
    tried.add(real);
    if (host.isElectron && real === hostReal) return reject('electron-host', "is the editor's own Electron binary");

    let report = cache.get(real);
    const fromCache = report !== undefined;
    if (!report) {
      const outcome = await runSelfTest(c.path, {
        webgpuPackageDir: opts.webgpuPackageDir,
        scriptDir: opts.storageDir,
        timeoutMs: opts.selfTestTimeoutMs ?? 20_000,
        signal: opts.signal,
      });
      if (opts.signal?.aborted) throw new CancelledError();
      if (!outcome.ok) return reject(outcome.reason, outcome.detail);
      report = outcome.report;
      cache.set(real, report);
    }
    const verdict = judgeReport(report, host);
    if (verdict) return reject(verdict.reason, verdict.detail);
    if (host.isElectron && realOrSelf(report.execPath) === hostReal) return reject('electron-host', "runs the editor's own Electron binary");
    log(`node runtime: chose ${c.source} ${c.path} (${report.version}, webgpu ${report.webgpu.status}${fromCache ? ', cached' : ''})`);
    return {
      source: c.source, path: c.path, execPath: report.execPath || c.path, version: report.version,
      webgpu: report.webgpu, report, fromCache, rejected,
    };
  };

  for (const c of localCandidates(opts, host)) {
    const chosen = await check(c);
    if (chosen) return chosen;
  }

  if (opts.allowDownload) {
    let binPath: string;
    try {
      const built = await downloadNodeRuntime({
        ...opts.download,
        storageDir: opts.storageDir,
        platform: host.platform,
        arch: host.arch,
        signal: opts.signal,
        onProgress: opts.onProgress,
      });
      binPath = built.binPath;
    } catch (e) {
      if (e instanceof CancelledError || !(e instanceof RuntimeDownloadError)) throw e;
      rejected.push({ source: 'download', path: e.url, reason: 'download-failed', detail: e.message, cause: e });
      log(`node runtime: download failed: ${e.message}`);
      throw new NoNodeRuntimeError(rejected, true);
    }
    const chosen = await check({ source: 'download', path: binPath });
    if (chosen) return chosen;
  }
  throw new NoNodeRuntimeError(rejected, opts.allowDownload === true);
}

function* localCandidates(opts: SelectNodeRuntimeOptions, host: HostProcess): Generator<Candidate> {
  const explicit = opts.explicitPath?.trim();
  if (explicit) yield { source: 'setting', path: resolveExplicit(explicit, host.platform) };
  for (const p of findOnPath(opts.searchPath ?? process.env.PATH ?? '', host.platform)) yield { source: 'path', path: p };
  yield { source: 'host', path: host.execPath };
  for (const r of installedRuntimes(opts.storageDir, host.platform, host.arch)) yield { source: 'storage', path: r.binPath };
}

/** A setting may name the binary, or the folder of a Node.js install (…/node-v22.12.0-linux-x64). */
export function resolveExplicit(p: string, platform: string): string {
  const expanded = p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
  try {
    if (statSync(expanded).isDirectory()) {
      const inside = platform === 'win32' ? [join(expanded, 'node.exe')] : [join(expanded, 'bin', 'node'), join(expanded, 'node')];
      return inside.find((f) => existsSync(f)) ?? inside[0];
    }
  } catch {
    /* missing: reported as not-found by the caller */
  }
  return expanded;
}

/** Every executable `node` (node.exe on Windows) in PATH order. */
export function findOnPath(searchPath: string, platform: string): string[] {
  const name = platform === 'win32' ? 'node.exe' : 'node';
  const found: string[] = [];
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir.replace(/^"(.*)"$/, '$1'), name);
    try {
      if (!statSync(p).isFile()) continue;
      if (platform !== 'win32') accessSync(p, constants.X_OK);
      found.push(p);
    } catch {
      /* not there or not executable */
    }
  }
  return found;
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The cache is valid for one probe: this script, this webgpu package (path and version). */
function probeKey(webgpuDir: string | undefined): string {
  let version = '';
  if (webgpuDir) {
    try {
      version = (JSON.parse(readFileSync(join(webgpuDir, 'package.json'), 'utf8')) as { version?: string }).version ?? '';
    } catch {
      version = '?';
    }
  }
  return `${SELF_TEST_SCRIPT_HASH}|${webgpuDir ?? ''}|${version}`;
}
