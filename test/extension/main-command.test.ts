// The README's main command keeps its promise: `npm start -- --check` sets up, builds, fetches the default
// model, packages and installs Tandem into code-server with the sample workspace open, and exits 0 only
// once the editor answers HTTP 200 at the printed URL and Tandem's log says stories260K loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/testModels';

test('npm start -- --check: code-server comes up with Tandem installed, the sample workspace open and the default model loaded', { timeout: 600_000 }, async () => {
  const root = repoRoot();
  // bash scripts/main.sh is what `npm start` runs; it installs code-server itself (scripts/ext-setup.sh)
  const child = spawn('bash', [join(root, 'scripts', 'main.sh'), '--check'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0, `npm start -- --check failed (exit ${code}):\n${stderr.slice(-4000)}`);

  const line = JSON.parse(stdout.trim().split('\n').pop()!) as { name: string; url: string; workbenchMs: number; modelLoadedMs: number; log: string };
  console.log(JSON.stringify(line));
  assert.equal(line.name, 'editor-check');
  assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+\/\?folder=/);
  assert.equal(decodeURIComponent(line.url.split('folder=')[1]), join(root, 'samples', 'workspace'));
  assert.match(line.log, /model loaded: stories260K/);
  // the workspace points Tandem at the cached default model
  const settings = JSON.parse(readFileSync(join(root, 'samples', 'workspace', '.vscode', 'settings.json'), 'utf8')) as Record<string, string>;
  assert.match(settings['tandem.model'], /stories260K-f32\.gguf$/);
  assert.ok(existsSync(settings['tandem.model']));
});
