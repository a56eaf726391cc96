// Downloading an official Node.js build from a local server with the release layout: a good archive is
// verified and unpacked atomically; a corrupted one is refused and deleted; 404, connection refused, a
// dropped connection (resumed with Range) and a cancel mid-download each end the way a user expects.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DownloadProgress, downloadNodeRuntime, findChecksum, HostProcess, installedRuntimes, NoNodeRuntimeError, nodeDistribution,
  RuntimeDownloadError, selectNodeRuntime,
} from '../../src/host/runtime';
import { buildFakeRelease, refusedBaseUrl, startDistServer } from '../fixtures/runtime/distServer';
import { fakeNode, tempDir } from '../fixtures/runtime/fakes';

const posixOnly = { skip: process.platform === 'win32' ? 'the fake release is a tar.xz of sh scripts' : false };
const VERSION = '99.1.2';
const release = process.platform === 'win32' ? undefined : buildFakeRelease(VERSION);
const serverP = release ? startDistServer(release) : undefined;
after(async () => (await serverP)?.close());

async function server() {
  const s = (await serverP)!;
  s.corrupt = false;
  s.stall = false;
  s.dropNextAfterBytes = undefined;
  s.requests.length = 0;
  return s;
}

/** Every file under dir (empty folders are not "something left behind"). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

test('release names follow the official layout; SHASUMS256.txt lines are parsed exactly', () => {
  const linux = nodeDistribution({ version: 'v22.12.0', platform: 'linux', arch: 'x64', baseUrl: 'https://example.org/dist/' });
  assert.equal(linux.archiveUrl, 'https://example.org/dist/v22.12.0/node-v22.12.0-linux-x64.tar.xz');
  assert.equal(linux.shasumsUrl, 'https://example.org/dist/v22.12.0/SHASUMS256.txt');
  assert.equal(nodeDistribution({ version: '22.12.0', platform: 'win32', arch: 'arm64' }).archiveName, 'node-v22.12.0-win-arm64.zip');
  assert.equal(nodeDistribution({ version: '22.12.0', platform: 'linux', arch: 'arm' }).dirName, 'node-v22.12.0-linux-armv7l');
  assert.throws(() => nodeDistribution({ version: 'latest' }), /not a Node.js version/);
  const a = 'a'.repeat(64);
  const b = 'B'.repeat(64);
  const text = `${a}  node-v1.0.0-linux-x64.tar.gz\r\n${b} *node-v1.0.0-linux-x64.tar.xz\n`;
  assert.equal(findChecksum(text, 'node-v1.0.0-linux-x64.tar.xz'), 'b'.repeat(64));
  assert.equal(findChecksum(text, 'node-v1.0.0-linux-x64.tar'), undefined);
});

test('a good archive is verified, unpacked atomically, and runs; a second call downloads nothing', posixOnly, async () => {
  const s = await server();
  const storageDir = tempDir('dl-good');
  const progress: DownloadProgress[] = [];
  const built = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION, onProgress: (p) => progress.push(p) });
  assert.equal(built.version, VERSION);
  assert.ok(built.binPath.endsWith(join(`node-v${VERSION}-linux-x64`, 'bin', 'node')) || process.platform !== 'linux');
  assert.equal(execFileSync(built.binPath, ['-p', '6*7'], { encoding: 'utf8' }).trim(), '42');

  const bytes = progress.filter((p) => p.phase === 'download');
  assert.ok(bytes.length > 2, 'several progress events');
  assert.ok(bytes.every((p, i) => i === 0 || p.bytesDone >= bytes[i - 1].bytesDone), 'monotonic');
  assert.deepEqual(bytes.at(-1), { phase: 'download', bytesDone: release!.archive.length, bytesTotal: release!.archive.length });
  assert.deepEqual(progress.map((p) => p.phase).filter((p, i, a) => p !== a[i - 1]), ['checksums', 'download', 'verify', 'extract']);

  const leftovers = filesUnder(storageDir).filter((f) => !f.startsWith(built.dir));
  assert.deepEqual(leftovers, [], 'no archive, partial, lock or temp dir left');
  assert.deepEqual(readdirSync(join(storageDir, 'node')).filter((n) => n.startsWith('.extract-')), []);
  assert.deepEqual(installedRuntimes(storageDir).map((r) => r.version), [VERSION]);

  const before = s.requests.length;
  await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION });
  assert.equal(s.requests.length, before);
});

test('a corrupted archive is refused and deleted, and nothing is unpacked', posixOnly, async () => {
  const s = await server();
  s.corrupt = true;
  const storageDir = tempDir('dl-corrupt');
  const err = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION }).catch((e) => e);
  assert.ok(err instanceof RuntimeDownloadError, String(err));
  assert.equal(err.failure, 'checksum');
  assert.match(err.message, new RegExp(`SHASUMS256.txt says ${release!.sha256}; the file was deleted`));
  assert.match(err.hint, /corrupt and has been deleted/);
  assert.deepEqual(filesUnder(storageDir), []);
  assert.deepEqual(installedRuntimes(storageDir), []);
});

test('404: an unknown version, and a platform missing from SHASUMS256.txt, say so', posixOnly, async () => {
  const s = await server();
  const storageDir = tempDir('dl-404');
  const err = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: '98.0.0' }).catch((e) => e);
  assert.ok(err instanceof RuntimeDownloadError, String(err));
  assert.equal(err.failure, 'not-found');
  assert.match(err.message, /v98\.0\.0\/SHASUMS256\.txt: HTTP 404: no Node.js v98\.0\.0 there/);

  const noBuild = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION, platform: 'aix', arch: 'x64' })
    .catch((e) => e);
  assert.equal(noBuild.failure, 'not-found');
  assert.match(noBuild.message, /lists no node-v99\.1\.2-aix-x64\.tar\.xz/);
  assert.deepEqual(filesUnder(storageDir), []);
});

test('connection refused reads as offline, with what to do', async () => {
  const baseUrl = await refusedBaseUrl();
  const err = await downloadNodeRuntime({ storageDir: tempDir('dl-refused'), baseUrl, version: VERSION }).catch((e) => e);
  assert.ok(err instanceof RuntimeDownloadError, String(err));
  assert.equal(err.failure, 'offline');
  assert.match(err.message, /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  assert.match(err.hint, /offline or behind a proxy.*tandem\.nodePath/);
});

test('a dropped connection keeps the partial file; the next call resumes it with a Range request', posixOnly, async () => {
  const s = await server();
  const storageDir = tempDir('dl-resume');
  s.dropNextAfterBytes = 200_000;
  const err = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION, maxAttempts: 1 }).catch((e) => e);
  assert.equal(err.failure, 'interrupted', String(err));
  const partial = filesUnder(storageDir).filter((f) => f.endsWith('.partial'));
  assert.equal(partial.length, 1);
  const kept = statSync(partial[0]).size;
  assert.ok(kept > 0 && kept <= 200_000, `kept ${kept} bytes`);

  s.requests.length = 0;
  const built = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION });
  assert.ok(existsSync(built.binPath));
  const archiveRequests = s.requests.filter((r) => r.path.endsWith('.tar.xz'));
  assert.deepEqual(archiveRequests.map((r) => r.range), [`bytes=${kept}-`]);

  // Within one call, a drop is retried (resumed) without the caller noticing.
  const again = tempDir('dl-resume-auto');
  s.requests.length = 0;
  s.dropNextAfterBytes = 100_000;
  await downloadNodeRuntime({ storageDir: again, baseUrl: s.baseUrl, version: VERSION });
  const ranges = s.requests.filter((r) => r.path.endsWith('.tar.xz')).map((r) => r.range);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  assert.match(ranges[1] ?? '', /^bytes=[1-9]\d*-$/);
});

test('cancel mid-download rejects with CancelledError and leaves nothing behind', posixOnly, async () => {
  const s = await server();
  s.stall = true;
  const storageDir = tempDir('dl-cancel');
  const ac = new AbortController();
  let seen = 0;
  const pending = downloadNodeRuntime({
    storageDir, baseUrl: s.baseUrl, version: VERSION, signal: ac.signal,
    onProgress: (p) => {
      if (p.phase === 'download' && p.bytesDone > 0 && seen++ === 0) ac.abort();
    },
  });
  await assert.rejects(pending, { name: 'CancelledError' });
  assert.deepEqual(filesUnder(storageDir), []);
  s.release();
});

test('selection downloads when nothing local passes, then finds the stored build without the network', posixOnly, async () => {
  const s = await server();
  const t = tempDir('sel-dl');
  const storageDir = join(t, 'storage');
  // An Electron host with an empty PATH: only a download can help.
  const host: HostProcess = { execPath: fakeNode(join(t, 'code'), { electron: '37.2.0' }), isElectron: true, platform: process.platform, arch: process.arch };
  const opts = { storageDir, host, searchPath: '', allowDownload: true, download: { baseUrl: s.baseUrl, version: VERSION } };
  let lastProgress: DownloadProgress | undefined;
  const first = await selectNodeRuntime({ ...opts, onProgress: (p) => (lastProgress = p) });
  assert.equal(first.source, 'download');
  assert.equal(first.version, process.version, 'the fake build runs the real node');
  assert.deepEqual(first.rejected.map((r) => `${r.source}:${r.reason}`), ['host:electron-host']);
  assert.equal(lastProgress?.phase, 'extract');

  const requests = s.requests.length;
  const second = await selectNodeRuntime(opts);
  assert.equal(second.source, 'storage');
  assert.equal(second.path, first.path);
  assert.equal(second.fromCache, true);
  assert.equal(s.requests.length, requests, 'no network on the second selection');
});

test('selection: a failed download ends in NoNodeRuntimeError carrying the download error', posixOnly, async () => {
  const s = await server();
  s.corrupt = true;
  const t = tempDir('sel-bad');
  const host: HostProcess = { execPath: fakeNode(join(t, 'code'), { electron: '37.2.0' }), isElectron: true, platform: process.platform, arch: process.arch };
  const err = await selectNodeRuntime({
    storageDir: join(t, 'storage'), host, searchPath: '', allowDownload: true, download: { baseUrl: s.baseUrl, version: VERSION },
  }).catch((e) => e);
  assert.ok(err instanceof NoNodeRuntimeError, String(err));
  const last = err.rejected.at(-1)!;
  assert.equal(last.reason, 'download-failed');
  assert.ok(last.cause instanceof RuntimeDownloadError && last.cause.failure === 'checksum');
  assert.match(err.hint, /set tandem\.nodePath/);
});

test('a stalled server fails with "stalled" after the idle time, keeping the partial file to resume', posixOnly, async () => {
  const s = await server();
  s.stall = true;
  const storageDir = tempDir('dl-stall');
  const err = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION, idleTimeoutMs: 300, maxAttempts: 1 })
    .catch((e) => e);
  s.release();
  assert.ok(err instanceof RuntimeDownloadError, String(err));
  assert.equal(err.failure, 'stalled');
  assert.match(err.message, /no data for 300 ms/);
  const partial = filesUnder(storageDir).filter((f) => f.endsWith('.partial'));
  assert.equal(partial.length, 1);
  assert.ok(statSync(partial[0]).size > 0);
});

test('a second downloader into the same storage dir is refused while the first lives; a stale lock is taken over', posixOnly, async () => {
  const s = await server();
  const storageDir = tempDir('dl-lock');
  const dist = nodeDistribution({ version: VERSION });
  const lock = join(storageDir, 'node', '.downloads', `${dist.archiveName}.partial.lock`);
  mkdirSync(join(storageDir, 'node', '.downloads'), { recursive: true });
  writeFileSync(lock, String(process.ppid)); // a live process (the test runner)
  const err = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION }).catch((e) => e);
  assert.equal(err.failure, 'busy', String(err));
  assert.match(err.message, new RegExp(`process ${process.ppid} is already downloading`));

  const dead = spawnSync(process.execPath, ['-e', '0']).pid; // has exited: its lock is stale
  writeFileSync(lock, String(dead));
  const built = await downloadNodeRuntime({ storageDir, baseUrl: s.baseUrl, version: VERSION });
  assert.ok(existsSync(built.binPath));
  assert.ok(!existsSync(lock));
});
