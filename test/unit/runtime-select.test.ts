// Runtime selection with fake runtimes: the order (setting, PATH, host, storage), and why each fake is
// refused (Electron, too old, another architecture, crashing, hanging, no report), the self-test cache,
// and the WebGPU probe of the real node with the real `webgpu` package on this machine's adapter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HostProcess, NoNodeRuntimeError, selectNodeRuntime, SelectNodeRuntimeOptions } from '../../src/host/runtime';
import { CACHE_FILE_NAME } from '../../src/host/runtime/selfTestCache';
import {
  chattyNode, crashingNode, fakeNode, fakeWebgpuPackage, hangingNode, realNodeShim, realWebgpuDir, tempDir,
} from '../fixtures/runtime/fakes';

const posixOnly = { skip: process.platform === 'win32' ? 'fake runtimes are sh scripts' : false };
const machine: HostProcess = { execPath: process.execPath, isElectron: false, platform: process.platform, arch: process.arch };
const otherArch = process.arch === 's390x' ? 'x64' : 's390x';

/** Options with nothing picked up from the real machine: empty PATH unless given, an isolated storage dir. */
function isolated(over: Partial<SelectNodeRuntimeOptions> = {}): SelectNodeRuntimeOptions {
  return { storageDir: tempDir('storage'), searchPath: '', selfTestTimeoutMs: 15_000, host: machine, ...over };
}

function reasons(e: unknown): string[] {
  assert.ok(e instanceof NoNodeRuntimeError, `expected NoNodeRuntimeError, got ${e}`);
  return e.rejected.map((r) => `${r.source}:${r.reason}`);
}

test('order: a bad setting and bad PATH entries are skipped, with reasons, for the first good node on PATH', posixOnly, async () => {
  const t = tempDir('order');
  const electron = fakeNode(join(t, 'code', 'electron'), { electron: '37.2.0' });
  const dirs = [join(t, 'p1'), join(t, 'p2'), join(t, 'p3'), join(t, 'p4'), join(t, 'p5')];
  fakeNode(join(dirs[0], 'node'), { version: 'v18.20.4' });
  fakeNode(join(dirs[1], 'node'), { arch: otherArch });
  crashingNode(join(dirs[2], 'node'));
  const good = realNodeShim(join(dirs[3], 'node'));
  realNodeShim(join(dirs[4], 'node')); // after the good one: never run
  const chosen = await selectNodeRuntime(isolated({ explicitPath: electron, searchPath: dirs.join(delimiter) }));
  assert.equal(chosen.source, 'path');
  assert.equal(chosen.path, good);
  assert.equal(chosen.version, process.version);
  assert.equal(chosen.execPath, process.execPath, 'the binary behind the shim is what to spawn');
  assert.deepEqual(chosen.rejected.map((r) => `${r.source}:${r.reason}`),
    ['setting:electron', 'path:too-old', 'path:wrong-platform', 'path:crashed']);
  const [el, old, arch, crash] = chosen.rejected;
  assert.match(el.detail, /Electron 37\.2\.0/);
  assert.match(old.detail, /v18\.20\.4.*20 or newer/);
  assert.match(arch.detail, new RegExp(`${otherArch}.*${process.arch}`));
  assert.match(crash.detail, /exited with code 127.*undefined symbol/);
});

test('order: the setting wins over PATH; a folder setting finds bin/node inside it', posixOnly, async () => {
  const t = tempDir('setting');
  const install = join(t, 'node-v22.0.0-linux-x64');
  const bin = realNodeShim(join(install, 'bin', 'node'));
  const onPath = realNodeShim(join(t, 'path', 'node'));
  const chosen = await selectNodeRuntime(isolated({ explicitPath: install, searchPath: join(t, 'path') }));
  assert.equal(chosen.source, 'setting');
  assert.equal(chosen.path, bin);
  assert.deepEqual(chosen.rejected, []);
  const missing = await selectNodeRuntime(isolated({ explicitPath: join(t, 'nope', 'node'), searchPath: join(t, 'path') }));
  assert.equal(missing.source, 'path');
  assert.equal(missing.path, onPath);
  assert.deepEqual(missing.rejected.map((r) => `${r.source}:${r.reason}`), ['setting:not-found']);
});

test('order: with nothing on PATH, the host process (plain Node, as in code-server) is used', async () => {
  const chosen = await selectNodeRuntime(isolated());
  assert.equal(chosen.source, 'host');
  assert.equal(chosen.path, process.execPath);
});

test('an Electron host never uses its own binary, even when the setting or PATH names it', posixOnly, async () => {
  const t = tempDir('electron-host');
  // The "editor": Electron run as node (a fake that also says so when run).
  const editor = fakeNode(join(t, 'code', 'code'), { electron: '37.2.0' });
  const host: HostProcess = { ...machine, execPath: editor, isElectron: true };
  const counter = join(t, 'runs.txt');
  const err = await selectNodeRuntime(isolated({ host, explicitPath: editor, searchPath: '' })).catch((e) => e);
  assert.deepEqual(reasons(err), ['setting:electron-host'], 'the host binary is refused without being run');
  assert.match(err.message, /editor's own Electron binary/);
  assert.match(err.hint, /tandem\.nodePath/);

  // A different Electron (another app's) is run, and refused by what it reports.
  fakeNode(join(t, 'slack', 'node'), { electron: '30.0.0' }, counter);
  const good = realNodeShim(join(t, 'real', 'node'));
  const chosen = await selectNodeRuntime(isolated({ host, searchPath: [join(t, 'slack'), join(t, 'real')].join(delimiter) }));
  assert.equal(chosen.path, good);
  assert.deepEqual(chosen.rejected.map((r) => `${r.source}:${r.reason}`), ['path:electron']);
  assert.equal(readFileSync(counter, 'utf8'), 'run\n');
  assert.ok(!chosen.rejected.some((r) => r.source === 'host'), 'the host was never reached: PATH had a good node');
});

test('a hanging runtime is killed at the time limit; one that prints no report is refused', posixOnly, async () => {
  const t = tempDir('hang');
  hangingNode(join(t, 'a', 'node'));
  chattyNode(join(t, 'b', 'node'));
  const started = Date.now();
  const chosen = await selectNodeRuntime(isolated({
    searchPath: [join(t, 'a'), join(t, 'b')].join(delimiter),
    selfTestTimeoutMs: 1_500,
  }));
  assert.ok(Date.now() - started < 10_000, 'the hang did not block selection');
  assert.equal(chosen.source, 'host');
  assert.deepEqual(chosen.rejected.map((r) => `${r.source}:${r.reason}`), ['path:timeout', 'path:bad-output']);
  assert.match(chosen.rejected[0].detail, /1500 ms/);
});

test('nothing usable: NoNodeRuntimeError lists every candidate and its reason', posixOnly, async () => {
  const t = tempDir('none');
  const host: HostProcess = { ...machine, execPath: fakeNode(join(t, 'code'), { electron: '37.2.0' }), isElectron: true };
  fakeNode(join(t, 'p', 'node'), { version: 'v16.20.2' });
  const err = await selectNodeRuntime(isolated({ host, searchPath: join(t, 'p'), explicitPath: '  ' })).catch((e) => e);
  assert.deepEqual(reasons(err), ['path:too-old', 'host:electron-host']);
  assert.match(err.message, /v16\.20\.2/);
  assert.match(err.hint, /allow Tandem to download/);
});

test('self-test results are cached per path + mtime + size, and re-run when the binary changes', posixOnly, async () => {
  const t = tempDir('cache');
  const storageDir = join(t, 'storage');
  const counter = join(t, 'runs.txt');
  const node = fakeNode(join(t, 'p', 'node'), {}, counter);
  const opts = () => isolated({ storageDir, searchPath: join(t, 'p') });
  const first = await selectNodeRuntime(opts());
  assert.equal(first.fromCache, false);
  const second = await selectNodeRuntime(opts());
  assert.equal(second.fromCache, true);
  assert.equal(second.path, node);
  assert.equal(readFileSync(counter, 'utf8'), 'run\n', 'one run for two selections');
  assert.ok(existsSync(join(storageDir, CACHE_FILE_NAME)));

  utimesSync(node, new Date(), new Date(Date.now() + 5_000)); // "upgraded in place"
  const third = await selectNodeRuntime(opts());
  assert.equal(third.fromCache, false);
  assert.equal(readFileSync(counter, 'utf8'), 'run\nrun\n');

  // A rejection is cached too: the too-old node is not run again until it changes.
  const oldCounter = join(t, 'old-runs.txt');
  fakeNode(join(t, 'old', 'node'), { version: 'v18.0.0' }, oldCounter);
  for (let i = 0; i < 2; i++) {
    const c = await selectNodeRuntime(isolated({ storageDir, searchPath: join(t, 'old') }));
    assert.deepEqual(c.rejected.map((r) => r.reason), ['too-old']);
  }
  assert.equal(readFileSync(oldCounter, 'utf8'), 'run\n');

  writeFileSync(join(storageDir, CACHE_FILE_NAME), '{ not json'); // damaged cache: ignored, rewritten
  const fourth = await selectNodeRuntime(opts());
  assert.equal(fourth.fromCache, false);
});

test('real node + real webgpu: loads, maps a 4-byte buffer and reads it back (or reports no adapter)', async () => {
  const chosen = await selectNodeRuntime(isolated({ webgpuPackageDir: realWebgpuDir(), selfTestTimeoutMs: 60_000 }));
  assert.equal(chosen.source, 'host');
  assert.ok(['ok', 'no-adapter'].includes(chosen.webgpu.status), JSON.stringify(chosen.webgpu));
  if (process.env.TANDEM_EXPECT_ADAPTER !== '0') {
    // This machine has an adapter (Mesa lavapipe); CI without one sets TANDEM_EXPECT_ADAPTER=0.
    assert.equal(chosen.webgpu.status, 'ok', JSON.stringify(chosen.webgpu));
    assert.ok(chosen.webgpu.adapter?.description, 'adapter described');
  }
});

test('webgpu probe: load failure and Electron-style map failure reject; no adapter is accepted', async () => {
  const t = tempDir('webgpu');
  const cases = [
    ['load-throws', 'webgpu-load-failed', /wrong ELF class/],
    ['external-buffers-refused', 'webgpu-map-failed', /External buffers are not allowed.*memory cage/],
    ['wrong-readback', 'webgpu-map-failed', /read back 0x0, wrote 0x7a4d3c2b/],
  ] as const;
  for (const [kind, reason, detail] of cases) {
    const err = await selectNodeRuntime(isolated({ webgpuPackageDir: fakeWebgpuPackage(join(t, kind), kind) })).catch((e) => e);
    assert.deepEqual(reasons(err), [`host:${reason}`], kind);
    assert.match(err.rejected[0].detail, detail, kind);
  }
  const noAdapter = await selectNodeRuntime(isolated({ webgpuPackageDir: fakeWebgpuPackage(join(t, 'none'), 'no-adapter') }));
  assert.equal(noAdapter.webgpu.status, 'no-adapter');
  assert.match(noAdapter.webgpu.detail ?? '', /requestAdapter\(\) returned null/);
  assert.equal(noAdapter.report.webgpu.externalBuffersRefused, undefined);
});

test('cancel: an aborted signal stops selection with CancelledError', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(selectNodeRuntime(isolated({ signal: ac.signal })), { name: 'CancelledError' });
});
