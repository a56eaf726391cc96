// Self-test reports cached in one JSON file in the storage dir, keyed by the runtime's real path and
// valid while its mtime and size are unchanged (an upgrade in place, e.g. `brew upgrade node`, re-tests),
// and while the probe itself (script version, webgpu package) is the same.
// Only completed reports are cached: a timeout or a crash may be transient and is tried again next time.

import { readFileSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SelfTestReport } from './selfTestScript';

export const CACHE_FILE_NAME = 'node-runtime-selftest.json';

interface CacheEntry {
  mtimeMs: number;
  size: number;
  probeKey: string;
  report: SelfTestReport;
  testedAt: string;
}

interface CacheFile {
  version: 1;
  entries: Record<string, CacheEntry>;
}

export class SelfTestCache {
  private readonly file: string;

  constructor(storageDir: string, private readonly probeKey: string) {
    this.file = join(storageDir, CACHE_FILE_NAME);
  }

  get(realPath: string): SelfTestReport | undefined {
    const entry = this.read().entries[realPath];
    if (!entry || entry.probeKey !== this.probeKey) return undefined;
    const st = statOrUndefined(realPath);
    if (!st || st.mtimeMs !== entry.mtimeMs || st.size !== entry.size) return undefined;
    return entry.report;
  }

  set(realPath: string, report: SelfTestReport): void {
    const st = statOrUndefined(realPath);
    if (!st) return;
    const data = this.read();
    data.entries[realPath] = { mtimeMs: st.mtimeMs, size: st.size, probeKey: this.probeKey, report, testedAt: new Date().toISOString() };
    mkdirSync(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 1));
    renameSync(tmp, this.file); // last writer wins; readers never see half a file
  }

  private read(): CacheFile {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as CacheFile;
      if (data.version === 1 && data.entries && typeof data.entries === 'object') return data;
    } catch {
      /* missing or damaged: start afresh */
    }
    return { version: 1, entries: {} };
  }
}

function statOrUndefined(p: string): { mtimeMs: number; size: number } | undefined {
  try {
    const st = statSync(p);
    return { mtimeMs: st.mtimeMs, size: st.size };
  } catch {
    return undefined;
  }
}
