// Swapping models (the user picks another one: dispose, then load) gives the old model's GPU memory
// back before the new one takes its own. Dawn frees a destroyed buffer only after a later submit
// completes, and a load only writes, so before BufferOwner.dispose submitted (and loadModel waited for
// it), every swap kept the old model allocated: on lavapipe, whose GPU memory is this process's memory,
// RSS grew by a model's size per swap. On lavapipe RSS is the measure; on a GPU it stays flat anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { ensureSynthetic } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';

test('load, dispose, load again, 8 times without a forward pass: memory stays at about one model', async () => {
  const gpu = await testGpu();
  // About 64 MB of Q8_0 weights, so a model kept per swap stands out of the process's noise.
  const path = await ensureSynthetic('swap-memory-q8_0', {
    arch: 'llama', nLayers: 4, dModel: 1024, nHeads: 8, nKvHeads: 4, ffnDim: 4096, vocabSize: 4096,
    contextLength: 256, ropeTheta: 10000, tiedEmbedding: true, weightType: 'q8_0', seed: 5, tokenizer: 'spm-bytes',
  });
  const fileBytes = statSync(path).size;
  const rssMB: number[] = [];
  for (let i = 0; i < 8; i++) {
    const { model } = await loadModel(gpu, path, { maxContextTokens: 64, maxBatchTokens: 16 });
    await gpu.device.queue.onSubmittedWorkDone();
    rssMB.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    model.dispose();
  }
  const growth = (rssMB[7] - rssMB[1]) * 2 ** 20;
  const info = `RSS after each load (MB): ${rssMB.join(', ')}; the model file is ${Math.round(fileBytes / 2 ** 20)} MB`;
  console.log(info);
  assert.ok(growth < 2 * fileBytes, `${info}: grew ${Math.round(growth / 2 ** 20)} MB over 6 swaps`);
});
