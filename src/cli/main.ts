// `tandem`: the engine without an editor. Sub-commands: inspect, complete, convert, bench.
// Exit codes (exitCodes.ts): 0 ok, 1 failure, 2 usage, 3 no WebGPU adapter, 4 bad or unsupported model,
// 5 out of memory, 6 GPU device lost.

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { EXIT, reportError } from './exitCodes';
import { inspectCommand } from './inspect';
import { completeCommand, parseTokenList } from './complete';
import { convertCommand } from './convert';
import { benchCommand } from './bench';
import { editReplayCommand, kvBudgetBytesOf } from './editReplay';
import { benchSpeculativeCommand, parseDraftLength } from './speculative';
import { benchSoakCommand } from './soak';
import { kvTypeOf } from './kvTypeFlag';
import { checkPrefillLimits, type PrefillLimits } from '../model/prefillLimits';

const USAGE = `usage:
  tandem inspect <model.gguf> [--json]
  tandem complete --model <model.gguf | stories260K> (--prompt <text> | --prompt-tokens <ids>) [--max-tokens N]
                  [--temperature T] [--top-k K] [--top-p P] [--seed S] [--no-stop] [--json]
                  [--draft <draft.gguf> | self:q4_0 | self:q8_0 | ngram | <draft>+ngram] [--draft-length auto|k]
                  [--kv-budget-mib M] (with a draft model: both models' KV, one pool when shapes match)
                  [--document-cache] (--prompt may repeat: the prompts run in order through the prefix cache)
                  [--kv-type f16|f32] (KV cache element type; default f16 where the adapter has shader-f16)
                  [--pass-budget-ms MS] [--passes-in-flight N] (prefill passes: GPU time each, 0 = no bound; queued at once)
  tandem convert llama2c <model.bin> <tokenizer.bin> -o <out.gguf> [--type f32|f16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k..q6_k|iq4_nl|iq4_xs|q4_k_m]
  tandem bench decode|prefill|bandwidth --model <model.gguf> [--context N] [--tokens N] [--runs N]
                  [--baseline llamacpp] [--profile] [--matvec rows|splitK|splitKi|splitKsg] [--kv-type f16|f32]
                  [--expert-order pairs|sorted] (a mixture of experts: the order its expert matvecs take a batch's pairs in)
                  [--pipeline-depth 1,2] (decode: greedy passes in flight, each listed depth in the same run)
  tandem bench matvec|verify [--model <model.gguf>] [--matvec rows,splitKi] (verify: a pass of 1..17 positions vs one)
                  [--dtypes f32,f16,q8_0,q4_0 | all] (matvec: weight types; K-quants on Qwen2.5-1.5B's shapes)
                  [--split-tokens 1,32] (verify: passes of up to that many tokens split attention as decode does)
  tandem bench dispatch [--model <model.gguf>] [--matvec k] (a dispatch's fixed cost on the host and the GPU;
                  with a model, the floor it puts under a decode pass vs the weights at copy bandwidth)
  tandem bench load --model <model.gguf> [--runs N] [--baseline llamacpp] [--requantize q4_0|q8_0] (load
                  time vs a raw upload of the same bytes and vs the repack on the loading thread; the repack
                  per weight type vs a memcpy, and on the repack threads vs one; --requantize: the self-draft's load)
  tandem bench speculative --model <target.gguf> --draft <draft.gguf> | self:q4_0 | self:q8_0
                  [--agreement natural,0.5,0.7,0.8,0.9] [--tokens N] [--draft-length auto|k] [--kv-budget-mib M]
  tandem bench edit-replay --model <model.gguf> [--files a.js,b.js] [--prompt-tokens N] [--layouts spm,psm] [--json]
                  [--requests N] [--kv-budget-mib M] [--no-llamacpp] [--llamacpp-threads N] [--kv-type f16|f32]
  tandem bench soak --model <model.gguf> [--draft self:q4_0|<draft.gguf>] [--requests N] [--documents N]
                  [--files a.js,b.js] [--context N] [--kv-budget-mib M] [--max-tokens N] [--seed N] [--kv-type f16|f32]
                  [--reference] (every request answered again by the model loaded alone, drafting off: same tokens)
`;

function num(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`--${name}: expected a number, got "${v}"`);
  return x;
}

/** --pass-budget-ms and --passes-in-flight, checked by the engine's own rule (checkPrefillLimits); an error names the flag. */
function prefillLimitsOf(budget: string | undefined, inFlight: string | undefined): PrefillLimits {
  const flag = (name: string, field: keyof PrefillLimits, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    try {
      return checkPrefillLimits({ [field]: Number(text) })[field];
    } catch (e) {
      throw new UsageError(`--${name}: ${(e as Error).message}, got "${text}"`);
    }
  };
  return { passBudgetMs: flag('pass-budget-ms', 'passBudgetMs', budget), passesInFlight: flag('passes-in-flight', 'passesInFlight', inFlight) };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  const json = rest.includes('--json');
  try {
    switch (command) {
      case 'inspect': {
        const { positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true });
        if (positionals.length !== 1) throw new UsageError('inspect takes one GGUF path');
        await inspectCommand(positionals[0], json);
        return EXIT.ok;
      }
      case 'complete': {
        const { values: v } = parseArgs({
          args: rest,
          options: {
            model: { type: 'string' }, prompt: { type: 'string', multiple: true }, 'prompt-tokens': { type: 'string' },
            'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
            'top-p': { type: 'string' }, seed: { type: 'string' }, 'no-stop': { type: 'boolean' }, json: { type: 'boolean' },
            draft: { type: 'string' }, 'draft-length': { type: 'string' }, 'kv-budget-mib': { type: 'string' },
            'document-cache': { type: 'boolean' }, 'kv-type': { type: 'string' },
            'pass-budget-ms': { type: 'string' }, 'passes-in-flight': { type: 'string' },
          },
        });
        if (!v.model) throw new UsageError('complete needs --model <gguf>');
        if ((v.prompt === undefined) === (v['prompt-tokens'] === undefined)) throw new UsageError('give exactly one of --prompt and --prompt-tokens');
        if ((v.prompt?.length ?? 0) > 1 && !v['document-cache']) throw new UsageError('--prompt repeats only with --document-cache');
        await completeCommand({
          model: v.model,
          prompt: v.prompt?.[0],
          morePrompts: v.prompt?.slice(1),
          promptTokens: v['prompt-tokens'] !== undefined ? parseTokenList(v['prompt-tokens']) : undefined,
          maxTokens: num(v['max-tokens'], 'max-tokens', 64),
          sampling: {
            temperature: num(v.temperature, 'temperature', 0),
            topK: num(v['top-k'], 'top-k', 40),
            topP: num(v['top-p'], 'top-p', 0.95),
            seed: num(v.seed, 'seed', 0),
          },
          json,
          stopAtEog: !v['no-stop'],
          draft: v.draft,
          draftLength: parseDraftLength(v['draft-length']),
          kvBudgetBytes: kvBudgetBytesOf(v['kv-budget-mib']),
          documentCache: v['document-cache'],
          kvType: kvTypeOf(v['kv-type']),
          prefill: prefillLimitsOf(v['pass-budget-ms'], v['passes-in-flight']),
        });
        return EXIT.ok;
      }
      case 'convert':
        await convertCommand(rest);
        return EXIT.ok;
      case 'bench':
        if (rest[0] === 'edit-replay') await editReplayCommand(rest.slice(1));
        else if (rest[0] === 'speculative') await benchSpeculativeCommand(rest.slice(1));
        else if (rest[0] === 'soak') return await benchSoakCommand(rest.slice(1));
        else await benchCommand(rest);
        return EXIT.ok;
      default:
        throw new UsageError(`unknown command '${command}'\n${USAGE}`);
    }
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return reportError(new UsageError(`${e.message}\n${USAGE}`), json);
    }
    return reportError(e, json);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(reportError(e, false)),
);
