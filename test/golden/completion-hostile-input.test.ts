// Input an editor can hand the engine that no test model was trained on, through the real pipeline on
// stories260K: a minified file (one 2 MB line before the cursor and after it), a 100,000-line file, and
// binary content (NUL bytes, lone surrogates, random bytes read as Latin-1). Each completes (some text or
// nothing), tokenizes a bounded number of characters whatever the document's size (a 2 MB line was
// tokenized whole on every keystroke: 4 s), and leaves the engine serving the next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCompletion, type CompletionModel } from '../../src/completion/pipeline';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';
import { Xoshiro128 } from '../../src/tools/prng';
import { loadCompletionModel } from '../helpers/gpuModel';
import { ensureStories260K } from '../helpers/testModels';

let cm: CompletionModel;
let dispose: () => void;

before(async () => {
  ({ cm, dispose } = await loadCompletionModel(await ensureStories260K('f32'), { maxContextTokens: 512 }));
});
after(() => dispose?.());

const opts: CompletionOptions = { maxTokens: 8, multiline: 'always', template: 'prefix-only', timeBudgetMs: 5000 };
const req = (prefix: string, suffix = ''): CompletionRequest => ({ documentId: 'file:///hostile.js', prefix, suffix, path: 'hostile.js', languageId: 'javascript' });

/** Characters the tokenizer was asked to encode during `f`: bounded by the budgets, not the document. */
async function charsEncoded<T>(f: () => Promise<T>): Promise<{ value: T; chars: number }> {
  const encode = cm.tokenizer.encode.bind(cm.tokenizer);
  let chars = 0;
  cm.tokenizer.encode = ((text: string, o?: { parseSpecial?: boolean }) => { chars += text.length; return encode(text, o); }) as typeof cm.tokenizer.encode;
  try {
    return { value: await f(), chars };
  } finally {
    cm.tokenizer.encode = encode;
  }
}

async function completesWithin(what: string, r: CompletionRequest, ms: number): Promise<void> {
  const t0 = performance.now();
  const { value: out, chars } = await charsEncoded(() => runCompletion(cm, r, opts));
  const took = performance.now() - t0;
  assert.ok(took < ms, `${what}: ${Math.round(took)} ms`);
  // Budgets 1024 + 256 + 512 tokens at most 16 characters a token, each window counted about twice.
  assert.ok(chars < 100_000, `${what}: ${chars} characters tokenized for one request`);
  assert.equal(typeof out.text, 'string');
  assert.ok(out.timings.promptTokens <= 512, `${what}: ${out.timings.promptTokens} prompt tokens`);
  console.log(JSON.stringify({ name: `hostile input: ${what}`, value: Math.round(took), unit: 'ms', promptTokens: out.timings.promptTokens, text: out.text.slice(0, 40) }));
}

test('a minified file: one 2 MB line before the cursor and one after', async () => {
  const line = 'var a=function(b){return b+1};'.repeat(70_000);
  await completesWithin('2 MB lines', req(line, line), 5000);
});

test('a 100,000-line file before the cursor', async () => {
  const text = Array.from({ length: 100_000 }, (_, i) => `  x${i} = f(x${i - 1});\n`).join('');
  await completesWithin('100k lines', { ...req(text), prefixLineOffset: 0 }, 5000);
});

test('binary content: NUL bytes, lone surrogates, random bytes as Latin-1', async () => {
  const rng = new Xoshiro128(5);
  const bytes = Array.from({ length: 50_000 }, () => String.fromCharCode(Math.floor(rng.next() * 256))).join('');
  await completesWithin('random bytes', req(bytes + '\u0000\u0000\ud800 \udfff', '\u0000' + bytes.slice(0, 1000)), 5000);
  // ... and the engine still completes ordinary text afterwards.
  const out = await runCompletion(cm, req('Once upon a time'), opts);
  assert.ok(out.text.length > 0);
});
