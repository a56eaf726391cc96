// `tandem bench dispatch [--model m.gguf] [--matvec k] [--context N]`: the fixed cost of a dispatch on the
// host and on the GPU (bench/dispatch.ts), and with a model, the floor those costs put under its decode
// pass next to the pass's weight bytes at the device's copy bandwidth (measured in the same run).

import type { Gpu } from '../gpu/device';
import type { BandwidthResult } from '../bench/bandwidth';
import { measureDispatchCost } from '../bench/dispatch';
import { loadModel } from '../model/load';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { prefill } from '../engine/generate';
import { encodedDispatches } from '../ops/context';
import type { MatvecKind } from '../ops/matmul';
import { emit, type Figure } from './figure';

/** Emits each figure as it is measured (a model that fails to load leaves the dispatch figures printed). */
export async function benchDispatch(gpu: Gpu, bw: BandwidthResult, o: { model?: string; matvec?: MatvecKind; context: number; prompt: (vocab: number, n: number) => number[] }): Promise<void> {
  const adapter = gpu.adapter.description;
  const c = await measureDispatchCost(gpu);
  // Timestamps time the GPU alone; the wall clock adds the submit and the wait, fixed per pass, which the
  // difference of two passes cancels. Where both exist the timestamps decide.
  const gpuUs = c.dependentTimestampUs ?? c.dependentUs;
  const at = { dispatches: c.dispatches, adapter };
  const r = (x: number | undefined) => (x === undefined ? null : Math.round(x * 1000) / 1000);
  const calls = c.hostCallUs;
  const hostUs = c.hostEncodeUs + c.hostSubmitUs;
  const figures: Figure[] = [
    { name: 'GPU time per dependent dispatch', value: gpuUs, unit: 'us', vs: 'GPU time per independent dispatch', ratio: gpuUs / (c.independentTimestampUs ?? c.independentUs),
      wallUs: r(c.dependentUs), timestampUs: r(c.dependentTimestampUs), independentWallUs: r(c.independentUs), independentTimestampUs: r(c.independentTimestampUs),
      note: 'each dispatch writes the buffer the one before wrote, as a decode pass\'s kernels do; one workgroup of trivial work', ...at },
    { name: 'host time per dispatch', value: hostUs, unit: 'us', vs: 'GPU time per dependent dispatch', ratio: hostUs / gpuUs, encodeUs: r(c.hostEncodeUs), submitUs: r(c.hostSubmitUs),
      note: 'encoding (setPipeline + setBindGroup + dispatchWorkgroups through dawn.node, as ops/context.ts does) and its share of queue.submit; ratio > 1: the host is the slower side', ...at },
    { name: 'host time of the three Dawn calls, each alone', value: calls.setPipeline + calls.setBindGroup + calls.dispatchX, unit: 'us', vs: 'their encoding together',
      ratio: (calls.setPipeline + calls.setBindGroup + calls.dispatchX) / c.hostEncodeUs,
      setPipelineUs: r(calls.setPipeline), setBindGroupUs: r(calls.setBindGroup), dispatchXUs: r(calls.dispatchX), dispatchXYZUs: r(calls.dispatchXYZ), ...at },
  ];
  figures.forEach(emit);
  if (o.model === undefined) return;

  const { model } = await loadModel(gpu, o.model, { maxContextTokens: o.context + 8, maxBatchTokens: 64, matvec: o.matvec });
  const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
  try {
    // The decode pass at position `context` (at most the model's last position).
    const prompt = o.prompt(model.config.vocabSize, Math.min(o.context, model.options.maxContextTokens - 1) + 1);
    await prefill(model, seq, prompt.slice(0, -1), false);
    const before = encodedDispatches();
    await model.forward({ tokens: prompt.slice(-1), seq, logitRows: 1, wantLogits: false });
    const perPass = encodedDispatches() - before;
    const rooflineMs = (model.weights.bytesPerToken / bw.copyBytesPerS) * 1000;
    // Passes in flight (GreedyStream) overlap the host's encoding with the GPU's work: the slower side sets the floor.
    const floorMs = (perPass * Math.max(hostUs, gpuUs)) / 1000;
    emit({
      name: 'dispatch floor of a decode pass', value: floorMs, unit: 'ms', vs: 'the pass\'s weight bytes at the device\'s copy bandwidth', ratio: floorMs / rooflineMs,
      dispatchesPerPass: perPass, rooflineMs: r(rooflineMs), weightBytesPerToken: model.weights.bytesPerToken, boundBy: hostUs > gpuUs ? 'host' : 'gpu',
      note: 'ratio > 1: the fixed cost of the pass\'s dispatches alone exceeds streaming its weights', model: o.model, context: o.context, matvec: o.matvec ?? (gpu.adapter.isSoftware ? 'rows' : 'splitKi'), adapter,
    });
  } finally {
    seq.clear();
    model.dispose();
  }
}
