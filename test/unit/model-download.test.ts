// Downloading a recommended GGUF from a local server with the Hugging Face hub's layout (file listing with
// LFS SHA-256, resolve → CDN redirect, Range): a good file lands verified under the models folder and is not
// fetched again; a corrupted one is refused and deleted; a missing repo or file says what to do; a dropped
// connection and a cancel both keep the .part file, and the next download resumes it with a Range request.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeTransfer, TransferMeter } from '../../src/common/download';
import { CancelledError } from '../../src/common/errors';
import { downloadHubFile, hubBaseUrl, hubFilePath, HubDownloadProgress, ModelDownloadError, partialBytes } from '../../src/models/hubDownload';
import { RECOMMENDED_MODELS } from '../../src/models/recommended';
import { sha256, startHubServer } from '../fixtures/hubServer';
import { refusedBaseUrl } from '../fixtures/runtime/distServer';
import { tempDir } from '../fixtures/runtime/fakes';

const REPO = 'ggml-org/Tiny-Coder-Q8_0-GGUF';
const FILE = 'tiny-coder-q8_0.gguf';
const gguf = randomBytes(600 * 1024); // several chunks of the socket's 64 KiB reads
const serverP = startHubServer({
  [REPO]: [
    { path: FILE, content: gguf, lfs: true },
    { path: 'README.md', content: Buffer.from('# tiny\n'), lfs: false },
  ],
});
after(async () => (await serverP).close());

async function hub() {
  const s = await serverP;
  s.corrupt = false;
  s.stall = false;
  s.dropNextAfterBytes = undefined;
  s.requests.length = 0;
  return s;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

test('a good file is verified against the hub listing and lands under models/<owner>/<name>/; the second call fetches nothing', async () => {
  const s = await hub();
  const modelsDir = tempDir('hub-good');
  const progress: HubDownloadProgress[] = [];
  const got = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir, onProgress: (p) => progress.push(p) });
  assert.equal(got.path, join(modelsDir, 'ggml-org', 'Tiny-Coder-Q8_0-GGUF', FILE));
  assert.equal(got.alreadyPresent, false);
  assert.equal(got.sha256, sha256(gguf));
  assert.ok(readFileSync(got.path).equals(gguf));
  assert.deepEqual(filesUnder(modelsDir), [got.path], 'no .part or .lock left');
  assert.deepEqual(progress.map((p) => p.phase).filter((p, i, a) => p !== a[i - 1]), ['listing', 'download', 'verify']);
  const bytes = progress.filter((p) => p.phase === 'download');
  assert.ok(bytes.length > 2 && bytes.every((p, i) => i === 0 || p.bytesDone >= bytes[i - 1].bytesDone), 'several monotonic events');
  assert.deepEqual(bytes.at(-1), { phase: 'download', bytesDone: gguf.length, bytesTotal: gguf.length });
  assert.deepEqual(s.requests.map((r) => r.path.replace(/[0-9a-f]{64}/, '<sha>')),
    [`/api/models/${REPO}/tree/main`, `/${REPO}/resolve/main/${FILE}`, '/cdn/<sha>']);

  s.requests.length = 0;
  const again = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir });
  assert.deepEqual({ ...again, sha256: undefined }, { path: got.path, bytes: gguf.length, alreadyPresent: true, sha256: undefined });
  assert.equal(s.requests.length, 0);
});

test('bytes that do not match the hub\'s SHA-256 are refused and deleted', async () => {
  const s = await hub();
  s.corrupt = true;
  const modelsDir = tempDir('hub-corrupt');
  const err = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir }).catch((e) => e);
  assert.ok(err instanceof ModelDownloadError, String(err));
  assert.equal(err.failure, 'checksum');
  assert.match(err.message, new RegExp(`the hub says ${sha256(gguf)}; the file was deleted`));
  assert.match(err.hint, /did not match .* has been deleted/);
  assert.deepEqual(filesUnder(modelsDir), []);
});

test('a missing repo, a missing file and a file without an LFS hash each fail with a typed error and a hint', async () => {
  const s = await hub();
  const modelsDir = tempDir('hub-404');
  const noRepo = await downloadHubFile({ baseUrl: s.baseUrl, repo: 'nobody/nothing', file: FILE, modelsDir }).catch((e) => e);
  assert.ok(noRepo instanceof ModelDownloadError, String(noRepo));
  assert.equal(noRepo.failure, 'not-found');
  assert.match(noRepo.message, /api\/models\/nobody\/nothing\/tree\/main: HTTP 401: no public repo nobody\/nothing there/);
  assert.match(noRepo.hint, /tandem\.modelDownloadUrl.*Tandem: Select Model/);

  const noFile = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: 'other.gguf', modelsDir }).catch((e) => e);
  assert.equal(noFile.failure, 'not-found');
  assert.match(noFile.message, new RegExp(`${REPO} has no file other\\.gguf`));

  const noLfs = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: 'README.md', modelsDir }).catch((e) => e);
  assert.equal(noLfs.failure, 'no-checksum');
  assert.deepEqual(filesUnder(modelsDir), []);
  assert.ok(!s.requests.some((r) => r.path.startsWith('/cdn/')), 'nothing fetched without a hash to check it against');
});

test('connection refused reads as offline, with what to do', async () => {
  const base = (await refusedBaseUrl()).replace(/\/dist$/, '');
  const err = await downloadHubFile({ baseUrl: base, repo: REPO, file: FILE, modelsDir: tempDir('hub-refused') }).catch((e) => e);
  assert.ok(err instanceof ModelDownloadError, String(err));
  assert.equal(err.failure, 'offline');
  assert.match(err.message, /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  assert.match(err.hint, /offline or behind a proxy/);
});

test('a dropped connection keeps the .part file; the next call resumes it with a Range request', async () => {
  const s = await hub();
  const modelsDir = tempDir('hub-resume');
  s.dropNextAfterBytes = 200_000;
  const err = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir, maxAttempts: 1 }).catch((e) => e);
  assert.equal(err.failure, 'interrupted', String(err));
  const kept = partialBytes(modelsDir, REPO, FILE);
  assert.ok(kept > 0 && kept <= 200_000, `kept ${kept} bytes`);
  assert.deepEqual(filesUnder(modelsDir), [`${hubFilePath(modelsDir, REPO, FILE)}.part`], 'the lock is released');

  s.requests.length = 0;
  const got = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir });
  assert.ok(readFileSync(got.path).equals(gguf));
  assert.deepEqual(s.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.range), [`bytes=${kept}-`]);
  assert.deepEqual(filesUnder(modelsDir), [got.path]);
});

test('cancel mid-download rejects with CancelledError, keeps the .part for a resume and leaves no final file', async () => {
  const s = await hub();
  s.stall = true;
  const modelsDir = tempDir('hub-cancel');
  const ac = new AbortController();
  const pending = downloadHubFile({
    baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir, signal: ac.signal,
    onProgress: (p) => {
      if (p.phase === 'download' && p.bytesDone > 0) ac.abort();
    },
  });
  await assert.rejects(pending, (e) => e instanceof CancelledError);
  s.release();
  const part = `${hubFilePath(modelsDir, REPO, FILE)}.part`;
  assert.deepEqual(filesUnder(modelsDir), [part], 'only the .part: no lock, no final file');
  const kept = statSync(part).size;
  assert.ok(kept > 0 && kept < gguf.length);

  s.stall = false;
  s.requests.length = 0;
  const got = await downloadHubFile({ baseUrl: s.baseUrl, repo: REPO, file: FILE, modelsDir });
  assert.ok(readFileSync(got.path).equals(gguf));
  assert.deepEqual(s.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.range), [`bytes=${kept}-`]);
});

test('the hub URL comes from the setting, else HF_ENDPOINT, else huggingface.co; names cannot leave the models folder', () => {
  assert.equal(hubBaseUrl('https://mirror.example/hf/', { HF_ENDPOINT: 'https://hf-mirror.com' }), 'https://mirror.example/hf');
  assert.equal(hubBaseUrl('', { HF_ENDPOINT: 'https://hf-mirror.com/' }), 'https://hf-mirror.com');
  assert.equal(hubBaseUrl(undefined, {}), 'https://huggingface.co');
  assert.throws(() => hubFilePath('/m', '../etc', 'x.gguf'), /not a hub repo name/);
  assert.throws(() => hubFilePath('/m', 'a/b/c', 'x.gguf'), /not a hub repo name/);
  assert.throws(() => hubFilePath('/m', 'a/b', '../x.gguf'), /not a file name/);
  assert.throws(() => hubFilePath('/m', 'a/..', 'x.gguf'), /not a hub repo name/);
});

test('the recommended list: one draft, targets, unique ids, GGUF names, sizes that look like their parameter count', () => {
  const ids = new Set(RECOMMENDED_MODELS.map((m) => m.id));
  assert.equal(ids.size, RECOMMENDED_MODELS.length);
  assert.deepEqual(RECOMMENDED_MODELS.filter((m) => m.role === 'draft').map((m) => m.id), ['qwen2.5-coder-0.5b-q8_0']);
  for (const m of RECOMMENDED_MODELS) {
    assert.doesNotThrow(() => hubFilePath('/m', m.repo, m.file));
    assert.match(m.file, /\.gguf$/);
    // Q8_0 is 8.5 bits a weight: ~1.06 bytes per parameter, plus the embeddings.
    const params = Number(/(\d+(?:\.\d+)?)b/i.exec(m.id)![1]) * 1e9;
    assert.ok(m.bytes > params * 0.9 && m.bytes < params * 1.3, `${m.id}: ${m.bytes} bytes`);
  }
});

test('the transfer meter gives the rate over its window and the time left', () => {
  const meter = new TransferMeter(5_000);
  meter.sample(0, 0);
  assert.equal(meter.bytesPerS(), 0);
  assert.equal(meter.etaS(100e6), undefined);
  for (let t = 1; t <= 10; t++) meter.sample(t * 2e6, t * 1000); // 2 MB/s for 10 s
  assert.equal(meter.bytesPerS(), 2e6);
  assert.equal(meter.etaS(100e6), 40);
  meter.sample(20e6 + 8e6, 11_000); // a burst: 8 MB in the last second
  assert.ok(Math.abs(meter.bytesPerS() - 3.2e6) < 1, `windowed rate ${meter.bytesPerS()}`); // (28 − 12) MB / 5 s
  assert.equal(describeTransfer(412e6, 1646.6e6, 23.4e6, 48), '412.0 of 1646.6 MB · 23.4 MB/s · 48 s left');
  assert.equal(describeTransfer(5e6, undefined, 0, undefined), '5.0 MB');
  assert.equal(describeTransfer(0, 8e9, 1e6, 8000), '0.0 of 8000.0 MB · 1.0 MB/s · 2.2 h left');
});
