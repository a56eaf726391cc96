// GPU waits on the real adapter under Tandem's polling policy (src/gpu/dawnTicks.ts, installed by
// Gpu.acquire): a dispatch that runs for a while is waited for with onSubmittedWorkDone and read back with
// mapAsync; the data is right, the wait ran mostly on 1 ms timers (dawn.node's busy loop would tick every
// turn) and left the event loop mostly idle; with spinMs = Infinity every tick is the busy loop's again. A
// failed mapAsync still rejects through the wrapper. The policy's logic alone: test/unit/dawn-ticks.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { DEFAULT_SPIN_MS, setSpinMs, tickCounts } from '../../src/gpu/dawnTicks';
import { Usage } from '../../src/gpu/buffers';
import { testGpu } from '../helpers/gpuModel';

let gpu: Gpu;
before(async () => {
  gpu = await testGpu();
});
after(() => setSpinMs(DEFAULT_SPIN_MS));

/** Each of 64 lanes runs `iterations` dependent multiply-adds on its float (long enough to wait for on lavapipe). */
const KERNEL = `
override ITERATIONS: u32;
@group(0) @binding(0) var<storage, read_write> d: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var x = d[g.x];
  for (var i = 0u; i < ITERATIONS; i++) { x = x * 0.5 + 1.0; }
  d[g.x] = x + f32(g.x);
}`;

async function longDispatch(iterations: number): Promise<{ values: Float32Array; ms: number; ticks: { immediate: number; timed: number }; busy: number }> {
  const device = gpu.device;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: KERNEL }), entryPoint: 'main', constants: { ITERATIONS: iterations } } });
  const data = device.createBuffer({ size: 256, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
  const staging = device.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: data } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(data, 0, staging, 0, 256);
    const t0 = performance.now();
    const ticks0 = tickCounts();
    const elu0 = performance.eventLoopUtilization();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    await staging.mapAsync(GPUMapMode.READ);
    const values = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    const ticks1 = tickCounts();
    return {
      values, ms: performance.now() - t0,
      ticks: { immediate: ticks1.immediate - ticks0.immediate, timed: ticks1.timed - ticks0.timed },
      busy: performance.eventLoopUtilization(elu0).utilization,
    };
  } finally {
    data.destroy();
    staging.destroy();
  }
}

test('a long dispatch is waited for on 1 ms timers after the busy part; the data is right; the event loop mostly idle', async () => {
  setSpinMs(2);
  // x -> x / 2 + 1 converges to 2 from 0: every lane ends at 2 + its index.
  const r = await longDispatch(4_000_000);
  for (let i = 0; i < 64; i++) assert.equal(r.values[i], 2 + i);
  console.log(JSON.stringify({ waitMs: Math.round(r.ms), ...r.ticks, eventLoopBusy: r.busy }));
  assert.ok(r.ms > 20, `the dispatch took only ${r.ms.toFixed(1)} ms: too short to test the policy`);
  assert.ok(r.ticks.timed > 0 && r.ticks.timed <= r.ms + 5, `${r.ticks.timed} timed ticks in ${r.ms.toFixed(0)} ms`);
  assert.ok(r.busy < 0.5, `event loop busy ${r.busy}`);
});

test("spinMs = Infinity: dawn's busy loop, every tick on the next turn", async () => {
  setSpinMs(Infinity);
  const r = await longDispatch(1_000_000);
  assert.equal(r.values[5], 7);
  assert.equal(r.ticks.timed, 0);
  assert.ok(r.ticks.immediate > 100, `${r.ticks.immediate} ticks`);
  setSpinMs(2);
});

test('a failed mapAsync still rejects through the wrapper', async () => {
  const b = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  b.destroy();
  await assert.rejects(b.mapAsync(GPUMapMode.READ));
});
