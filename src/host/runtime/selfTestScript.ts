// The program a candidate runtime runs to describe itself. It is plain CommonJS in ES2017 syntax so that
// any Node.js (or Electron run as Node) can parse it and report its version, even one far too old.
// Usage: <runtime> selftest.cjs <webgpu package dir | "">. It prints one line:
//   TANDEM_SELFTEST {"protocol":1,"version":"v22.12.0","platform":"linux","arch":"x64","electron":null,...}
// The WebGPU probe maps a 4-byte buffer and reads it back: that is exactly what fails inside Electron 21+
// (dawn.node's getMappedRange() creates an external ArrayBuffer, which V8's memory cage refuses).

export const SELF_TEST_MARKER = 'TANDEM_SELFTEST ';
export const SELF_TEST_PROTOCOL = 1;

/** What the probe found about WebGPU. Only 'ok' and 'no-adapter' let the runtime be chosen. */
export type WebGpuStatus = 'ok' | 'no-adapter' | 'load-failed' | 'map-failed' | 'skipped';

export interface SelfTestReport {
  protocol: number;
  version: string; // process.version, e.g. "v22.12.0"
  platform: string; // process.platform
  arch: string; // process.arch
  electron: string | null; // process.versions.electron
  execPath: string; // the binary behind a shim (nvm, volta, asdf): spawn this one
  webgpu: {
    status: WebGpuStatus;
    detail?: string;
    /** map-failed with "External buffers are not allowed" (Electron's V8 memory cage). */
    externalBuffersRefused?: boolean;
    adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  };
}

export const SELF_TEST_SCRIPT = String.raw`'use strict';
// Tandem runtime self-test (generated; see src/host/runtime/selfTestScript.ts).
var MARKER = ${JSON.stringify(SELF_TEST_MARKER)};
var report = {
  protocol: ${SELF_TEST_PROTOCOL},
  version: process.version,
  platform: process.platform,
  arch: process.arch,
  electron: (process.versions && process.versions.electron) || null,
  execPath: process.execPath,
  webgpu: { status: 'skipped' }
};
function message(e) { return String((e && e.message) || e).split('\n')[0].slice(0, 400); }
function finish() {
  process.stdout.write(MARKER + JSON.stringify(report) + '\n', function () { process.exit(0); });
}
async function probe(dir) {
  var mod;
  try {
    var path = require('path');
    var url = require('url');
    var entry = require.resolve(path.resolve(dir));
    mod = await import(url.pathToFileURL(entry).href);
  } catch (e) {
    return { status: 'load-failed', detail: message(e) };
  }
  var gpu, adapter, device;
  try {
    gpu = mod.create([]);
    global.__tandemSelfTestRoot = gpu; // dawn.node: the root must outlive every device made from it
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { status: 'no-adapter', detail: message(e) };
  }
  if (!adapter) return { status: 'no-adapter', detail: 'requestAdapter() returned null' };
  var info = adapter.info || {};
  var summary = {
    vendor: info.vendor || '', architecture: info.architecture || '',
    description: info.description || info.device || '', isFallbackAdapter: adapter.isFallbackAdapter === true
  };
  try {
    device = await adapter.requestDevice();
  } catch (e) {
    return { status: 'no-adapter', detail: 'requestDevice: ' + message(e), adapter: summary };
  }
  var g = mod.globals;
  var expected = 0x7a4d3c2b;
  try {
    var buffer = device.createBuffer({ size: 4, usage: g.GPUBufferUsage.MAP_READ | g.GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, new Uint32Array([expected]));
    await buffer.mapAsync(g.GPUMapMode.READ);
    var got = new Uint32Array(buffer.getMappedRange(0, 4))[0];
    buffer.unmap();
    buffer.destroy();
    device.destroy();
    if (got !== expected) {
      return { status: 'map-failed', detail: 'read back 0x' + got.toString(16) + ', wrote 0x' + expected.toString(16), adapter: summary };
    }
  } catch (e) {
    var m = message(e);
    return { status: 'map-failed', detail: m, externalBuffersRefused: /external buffers/i.test(m), adapter: summary };
  }
  return { status: 'ok', adapter: summary };
}
var dir = process.argv[2];
if (!dir) finish();
else probe(dir).then(function (w) { report.webgpu = w; finish(); },
  function (e) { report.webgpu = { status: 'load-failed', detail: message(e) }; finish(); });
`;
