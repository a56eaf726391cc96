// `tandem complete`: load a model, run a prompt, print the completion (or JSON with tokens and timings).

import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel } from '../model/load';
import { resolveModel } from '../models/catalog';
import { createTokenizer } from '../tokenizer';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { generate } from '../engine/generate';
import type { SamplingOptions } from '../engine/sampler';

export interface CompleteArgs {
  model: string;
  prompt?: string;
  promptTokens?: number[];
  maxTokens: number;
  sampling: SamplingOptions;
  json: boolean;
  /** Stop at the model's end-of-generation tokens (default true). */
  stopAtEog: boolean;
}

export function parseTokenList(s: string): number[] {
  const ids = s.split(/[\s,]+/).filter(Boolean).map(Number);
  if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--prompt-tokens: expected comma-separated token ids, got "${s}"`);
  return ids;
}

export async function completeCommand(a: CompleteArgs): Promise<void> {
  const t0 = performance.now();
  const modelPath = await resolveModel(a.model, (s) => process.stderr.write(`tandem: ${s}\n`));
  const gpu = await Gpu.acquire();
  const { model, file } = await loadModel(gpu, modelPath);
  const loadMs = performance.now() - t0;
  try {
    const tokenizer = createTokenizer(file.metadata);
    let prompt: number[];
    if (a.promptTokens) {
      prompt = a.promptTokens;
    } else {
      prompt = tokenizer.encode(a.prompt ?? '', { addBos: tokenizer.addBosDefault, parseSpecial: true });
    }
    if (prompt.length === 0) throw new UsageError('the prompt is empty (give --prompt text or --prompt-tokens ids)');
    const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
    const decoder = tokenizer.createStreamDecoder();
    const stream = !a.json;
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    const r = await generate(model, seq, prompt, {
      maxTokens: a.maxTokens,
      sampling: a.sampling,
      stopTokens: a.stopAtEog ? new Set(tokenizer.eotIds) : undefined,
      signal: ac.signal,
      onToken: (id) => {
        if (stream) process.stdout.write(decoder.push(id));
      },
    });
    process.off('SIGINT', onSigint);
    const text = tokenizer.decode(r.tokens, { stripLeadingSpace: false });
    if (a.json) {
      process.stdout.write(JSON.stringify({
        model: modelPath,
        promptTokens: prompt,
        tokens: r.tokens,
        text,
        stoppedBy: r.stoppedBy,
        timings: {
          loadMs: round(loadMs),
          prefillMs: round(r.prefillMs),
          decodeMs: round(r.decodeMs),
          prefillTokensPerS: round((prompt.length / r.prefillMs) * 1000),
          decodeTokensPerS: r.decodePasses ? round((r.decodePasses / r.decodeMs) * 1000) : null,
        },
        adapter: gpu.adapter,
      }) + '\n');
    } else {
      process.stdout.write(decoder.flush() + '\n');
    }
  } finally {
    model.dispose();
    gpu.dispose();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
