// `tandem inspect <gguf>`: architecture, shapes, tensor types, memory needed, tokenizer, FIM tokens.

import { GgmlType } from '../loaders/gguf/types';
import { readModelConfig, resolveRuntimeOptions } from '../model/load';
import { defaultKvType, kvBytesPerToken } from '../kvcache/kvBuffers';
import { createTokenizer } from '../tokenizer';
import { planWorkspace } from '../model/workspace';
import { describeRopeScaling } from '../model/ropeScaling';
import { checkModelRunnable, readsRopeFreqs } from '../model/weights';
import type { ModelConfig } from '../model/config';
import { chooseTemplate } from '../completion/templates';

const FFN_NAME: Record<ModelConfig['ffn'], string> = { swiglu: 'SwiGLU', geglu: 'GeGLU', gelu: 'GELU' };

/** "ffn 4864", or a mixture's "experts 128 x ffn 768, 8 a token". */
function ffnShape(c: ModelConfig): string {
  return c.experts ? `experts ${c.experts.count} x ffn ${c.experts.ffnDim}, ${c.experts.used} a token${c.experts.normalizeWeights ? '' : ' (weights not renormalised)'}${c.experts.weightsScale !== 1 ? ` x ${c.experts.weightsScale}` : ''}${c.experts.shared ? `, a shared expert of ffn ${c.experts.shared.ffnDim}${c.experts.shared.gated ? ' (gated)' : ''}` : ''}${c.experts.denseLeadingLayers ? `, the first ${c.experts.denseLeadingLayers} layer(s) dense of ffn ${c.ffnDim}` : ''}` : `ffn ${c.ffnDim}`;
}

/** The scales a model applies beyond the usual ones (gemma's embedding, granite's four), for the shape line. */
function scales(c: ModelConfig): string {
  const p = (v: number) => Number(v.toPrecision(6));
  const parts = [
    c.embeddingScale !== 1 ? `embedding x ${p(c.embeddingScale)}` : '',
    c.residualScale !== 1 ? `residual branches x ${p(c.residualScale)}` : '',
    c.attentionScale !== 1 / Math.sqrt(c.headDim) ? `q·k x ${p(c.attentionScale)}` : '',
    c.logitScale !== 1 ? `logits x ${p(c.logitScale)}` : '',
  ].filter(Boolean);
  return parts.length ? `, ${parts.join(', ')}` : '';
}

export async function inspectCommand(path: string, json: boolean): Promise<void> {
  const { file, config } = await readModelConfig(path);
  const types: Record<string, { tensors: number; bytes: number }> = {};
  for (const t of file.tensors) {
    const name = GgmlType[t.type] ?? String(t.type);
    types[name] ??= { tensors: 0, bytes: 0 };
    types[name].tensors++;
    types[name].bytes += t.byteSize;
  }
  const weightBytes = file.tensors.reduce((s, t) => s + t.byteSize, 0);
  // No device here: figures for the default on an adapter with shader-f16 (most), and f32 beside it.
  const kvType = defaultKvType(true);
  // A GPU adapter's defaults: split-key decode attention.
  const runtime = resolveRuntimeOptions(config, {}, { kvType, software: false });
  const kvPerToken = kvBytesPerToken({ ...config, blockSize: runtime.blockSize, kvType });
  const kvPerTokenF32 = kvBytesPerToken({ ...config, blockSize: runtime.blockSize, kvType: 'f32' });
  // A 128 MiB binding: WebGPU's default limit.
  const workspace = planWorkspace(config, { ...runtime, splitKeys: runtime.attentionSplitKeys, maxBindingBytes: 128 * 2 ** 20 });
  let tokenizer: Record<string, unknown> = { error: 'none' };
  try {
    const tok = createTokenizer(file.metadata);
    // The FIM template completions would use with the default settings (`tandem.fimTemplate` auto).
    const t = chooseTemplate(tok, config.name);
    const fimTemplate = { name: t.template.name, order: t.template.order, reason: t.reason };
    tokenizer = { model: tok.model, vocabSize: tok.vocabSize, bos: tok.bosId, eos: tok.eosId, endOfGeneration: tok.eotIds, fim: tok.fim ?? null, fimTemplate };
  } catch (e) {
    tokenizer = { error: (e as Error).message };
  }
  // What the load would refuse (weights.ts: a tensor the forward pass would not read, a type it cannot run), said here first.
  let unsupported: string | null = null;
  try {
    checkModelRunnable(config, file);
  } catch (e) {
    unsupported = (e as Error).message;
  }
  const info = {
    file: path,
    ggufVersion: file.version,
    fileBytes: file.fileSize,
    config,
    tensorTypes: types,
    tensors: file.tensors.length,
    unsupported,
    memory: {
      weightBytes,
      kvType,
      kvBytesPerToken: kvPerToken,
      kvBytesPerTokenF32: kvPerTokenF32,
      kvBytesDefaultBudget: runtime.kvBudgetBytes,
      workspaceBytes: workspace.totalBytes,
      totalDefaultBytes: weightBytes + runtime.kvBudgetBytes + workspace.totalBytes,
    },
    tokenizer,
  };
  if (json) {
    process.stdout.write(JSON.stringify(info) + '\n');
    return;
  }
  const c = config;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `${path}  (GGUF v${file.version}, ${mib(file.fileSize)})`,
    `architecture  ${c.architecture}  "${c.name}"`,
    `shape         ${c.nLayers} layers, d ${c.dModel}, ${ffnShape(c)}, heads ${c.nHeads} / kv ${c.nKvHeads} x ${c.headDim}${c.qkNorm ? ' (q/k normalised per head)' : ''}, vocab ${c.vocabSize}, ${c.norm === 'rms' ? 'RMSNorm' : 'LayerNorm'}, ${FFN_NAME[c.ffn]} FFN${c.parallelResidual ? ' beside the attention (one norm)' : ''}${scales(c)}`,
    `position      context ${c.contextLength}, ${c.positions === 'learned' ? 'learned position embedding (no rope)' : c.positions === 'alibi' ? `ALiBi, max bias ${c.alibiMaxBias} (no rope)` : `rope ${c.ropeStyle} theta ${c.ropeTheta} over ${c.nRot} dims, scaling ${describeRopeScaling(c.ropeScaling, readsRopeFreqs(c, file))}`}${c.slidingWindow ? `, sliding window ${c.slidingWindow}` : ''}`,
    `tensors       ${unsupported ?? `${file.tensors.length}, every one read and runnable`}`,
    `tensor types  ${Object.entries(types).map(([k, v]) => `${k} x${v.tensors} (${mib(v.bytes)})`).join(', ')}`,
    `memory        weights ${mib(weightBytes)}, KV ${(kvPerToken / 1024).toFixed(1)} KiB/token (${kvType}; ${(kvPerTokenF32 / 1024).toFixed(1)} f32 without shader-f16), default KV budget ${mib(runtime.kvBudgetBytes)}, workspace ${mib(workspace.totalBytes)}`,
    `tokenizer     ${JSON.stringify(tokenizer)}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
