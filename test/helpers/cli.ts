// Test helper: the built CLI (dist/cli.js) run as a script would, in a child process.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './testModels';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli.js ...args` to completion (2 minutes at most). */
export function tandem(...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
