// Speculative-decoding benchmark driver (issue 5). Synthesizes a target/draft pair in the real shapes of
// Qwen2.5-Coder-1.5B (target: d 1536, ffn 8960, 12 heads / 2 KV heads of 128, 28 layers) and
// Qwen2.5-Coder-0.5B (draft: d 896, ffn 4864, 14 / 2 heads of 64, 24 layers), tied embeddings, Q8_0, then
// runs `tandem bench speculative` on them: target-only and draft-only decoding, and speculative decoding
// with a draft whose agreement a with the target is controlled (it runs the real draft model for its cost
// and proposes the target's known token with probability a), for a in {0.5, 0.7, 0.8, 0.9}.
//
// Scaling for a software adapter (--scale S, default 7): layers and vocabulary are both divided by S
// (1.5B: 28 → 4 layers, 0.5B: 24 → 3 layers, vocab 151,936 → 21,760), widths unchanged. Dividing both
// keeps the draft/target weight-bytes ratio near the real pair's (0.29 vs 0.32), which is what sets the
// cost ratio c on a memory-bound GPU. --scale 1 is the full-size pair.
//
//   node dist-bench/speculative.js [--scale S] [--tokens N] [--draft-length auto|k] [--agreement 0.5,0.7,0.8,0.9] [--runs N]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { synthesizeModel, type SyntheticSpec } from '../src/tools/synthesize';

const { values: v } = parseArgs({
  options: {
    scale: { type: 'string' }, tokens: { type: 'string' }, 'draft-length': { type: 'string' }, agreement: { type: 'string' },
    runs: { type: 'string' }, 'cache-dir': { type: 'string' },
  },
});
const root = resolve(__dirname, '..');
const scale = Number(v.scale ?? 7);
const cacheDir = v['cache-dir'] ?? join(root, '.cache', 'models');
mkdirSync(cacheDir, { recursive: true });
const vocab = Math.ceil(151936 / scale / 64) * 64;

const common = { arch: 'qwen2', vocabSize: vocab, contextLength: 32768, ropeTheta: 1000000, tiedEmbedding: true, weightType: 'q8_0', tokenizer: 'spm-bytes' } as const;
const target: SyntheticSpec = { ...common, nLayers: Math.max(1, Math.round(28 / scale)), dModel: 1536, nHeads: 12, nKvHeads: 2, ffnDim: 8960, seed: 21 };
const draft: SyntheticSpec = { ...common, nLayers: Math.max(1, Math.round(24 / scale)), dModel: 896, nHeads: 14, nKvHeads: 2, ffnDim: 4864, seed: 22 };

async function main(): Promise<void> {
  const paths: string[] = [];
  for (const [name, spec] of [['target-qwen15b', target], ['draft-qwen05b', draft]] as const) {
    const path = join(cacheDir, `bench-spec-${name}-${spec.nLayers}L-v${spec.vocabSize}-q8_0.gguf`);
    if (!existsSync(path)) await synthesizeModel(path, spec);
    paths.push(path);
  }
  process.stdout.write(JSON.stringify({ name: 'bench config', scale, targetLayers: target.nLayers, draftLayers: draft.nLayers, vocab, realVocab: 151936, weights: 'q8_0',
    shapes: 'Qwen2.5-Coder-1.5B target / 0.5B draft widths' }) + '\n');
  const args = ['bench', 'speculative', '--model', paths[0], '--draft', paths[1], '--tokens', v.tokens ?? '64', '--runs', v.runs ?? '2',
    '--agreement', v.agreement ?? '0.5,0.7,0.8,0.9', '--draft-length', v['draft-length'] ?? 'auto'];
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`tandem ${args.join(' ')} exited ${r.status}`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
