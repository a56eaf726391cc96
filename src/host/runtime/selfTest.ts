// Runs a candidate runtime on the self-test script (a child process with a time limit) and judges its report.
// Nothing here trusts the candidate's file name: an Electron binary named `node` is caught by what it prints.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RejectReason } from './errors';
import { SELF_TEST_MARKER, SELF_TEST_PROTOCOL, SELF_TEST_SCRIPT, SelfTestReport } from './selfTestScript';

export const MIN_NODE_MAJOR = 20;

/** Either the candidate printed a report, or it could not (spawn error, crash, hang, garbage). */
export type SelfTestOutcome =
  | { ok: true; report: SelfTestReport }
  | { ok: false; reason: Extract<RejectReason, 'not-executable' | 'crashed' | 'timeout' | 'bad-output'>; detail: string };

export interface RunSelfTestOptions {
  /** Folder of the `webgpu` package the engine will load; without it the WebGPU probe is skipped. */
  webgpuPackageDir?: string;
  /** Folder to write the script into (the storage dir); it is written once per script version. */
  scriptDir: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The env a candidate runs with. ELECTRON_RUN_AS_NODE makes an Electron binary act as Node (so it reports
 *  itself instead of opening a window); NODE_OPTIONS from the editor's own process must not leak into it. */
export function runtimeSpawnEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ELECTRON_RUN_AS_NODE: '1' };
  delete env.NODE_OPTIONS;
  return env;
}

/** Hash of the script text: part of the cache key, so a changed probe re-tests every runtime. */
export const SELF_TEST_SCRIPT_HASH = createHash('sha256').update(SELF_TEST_SCRIPT).digest('hex').slice(0, 16);

export function writeSelfTestScript(dir: string): string {
  const file = join(dir, `tandem-selftest-${SELF_TEST_SCRIPT_HASH}.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, SELF_TEST_SCRIPT);
    // rename is atomic: a concurrent window never runs a half-written script.
    renameSync(tmp, file);
  }
  return file;
}

const OUTPUT_LIMIT_BYTES = 64 * 1024;

export function runSelfTest(runtimePath: string, options: RunSelfTestOptions): Promise<SelfTestOutcome> {
  const script = writeSelfTestScript(options.scriptDir);
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const posix = process.platform !== 'win32';
    const child = spawn(runtimePath, [script, options.webgpuPackageDir ?? ''], {
      env: runtimeSpawnEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      // Own process group on POSIX, so a hung shim's children die with it on timeout.
      detached: posix,
    });
    const done = (outcome: SelfTestOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const kill = () => {
      try {
        if (posix && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      kill();
      done({ ok: false, reason: 'timeout', detail: 'cancelled' });
    };
    // Resolve at the deadline without waiting for 'close': an orphaned grandchild may hold the pipes open.
    const timer = setTimeout(() => {
      kill();
      done({ ok: false, reason: 'timeout', detail: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < OUTPUT_LIMIT_BYTES) stdout += s;
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < OUTPUT_LIMIT_BYTES) stderr += s;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      done({ ok: false, reason: 'not-executable', detail: `cannot run it (${e.code ?? e.message})` });
    });
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(SELF_TEST_MARKER));
      if (line) {
        const report = parseReport(line.slice(SELF_TEST_MARKER.length));
        if (report) return done({ ok: true, report });
        return done({ ok: false, reason: 'bad-output', detail: `unreadable self-test report: ${line.slice(0, 200)}` });
      }
      const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const tail = lastLine(stderr) || lastLine(stdout);
      if (code === 0 && !signal) {
        return done({ ok: false, reason: 'bad-output', detail: `printed no self-test report${tail ? `: ${tail}` : ''}` });
      }
      done({ ok: false, reason: 'crashed', detail: `${why}${tail ? `: ${tail}` : ''}` });
    });
  });
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

function parseReport(json: string): SelfTestReport | undefined {
  try {
    const r = JSON.parse(json) as SelfTestReport;
    const valid = r && r.protocol === SELF_TEST_PROTOCOL && typeof r.version === 'string' &&
      typeof r.platform === 'string' && typeof r.arch === 'string' && typeof r.webgpu?.status === 'string';
    return valid ? r : undefined;
  } catch {
    return undefined;
  }
}

export interface Machine {
  platform: string;
  arch: string;
}

/** Why a report disqualifies its runtime, or undefined when it is usable (a GPU-less 'no-adapter' is usable:
 *  the engine will say so itself, and the runtime is not to blame). */
export function judgeReport(report: SelfTestReport, machine: Machine): { reason: RejectReason; detail: string } | undefined {
  if (report.electron) {
    return { reason: 'electron', detail: `is Electron ${report.electron} (dawn.node cannot read GPU buffers back there)` };
  }
  const major = Number(/^v?(\d+)\./.exec(report.version)?.[1] ?? NaN);
  if (!(major >= MIN_NODE_MAJOR)) {
    return { reason: 'too-old', detail: `is Node.js ${report.version}; Tandem needs ${MIN_NODE_MAJOR} or newer` };
  }
  if (report.platform !== machine.platform || report.arch !== machine.arch) {
    return {
      reason: 'wrong-platform',
      detail: `is built for ${report.platform}-${report.arch}, this machine needs ${machine.platform}-${machine.arch}`,
    };
  }
  const w = report.webgpu;
  if (w.status === 'load-failed') return { reason: 'webgpu-load-failed', detail: `cannot load the webgpu package: ${w.detail}` };
  if (w.status === 'map-failed') {
    const why = w.externalBuffersRefused ? ' (external buffers are not allowed: an Electron-like V8 memory cage)' : '';
    return { reason: 'webgpu-map-failed', detail: `cannot read a GPU buffer back: ${w.detail}${why}` };
  }
  return undefined;
}
