// A day at the editor, compressed: thousands of completion requests from a simulated developer (typing,
// backspaces, new lines, jumps, file switches, accepted completions, requests cancelled mid-stream or
// superseded before they start, pastes and cuts of whole blocks, a cleared cache, binary and one-line
// files, the model loaded again as after a change of settings), sent through the engine process's own request handler (EngineServer, in this process) with the
// requests the extension's provider would build (completion/editorText.ts). Every `sampleEvery` requests,
// once the engine is idle, it samples what must not grow: the JS heap after a full GC, the GPU buffers
// alive (count and bytes), the KV pool's accounting, the documents cached. Anything that does not add up,
// a request that is never answered, or an internal error is a problem, named in the result.
//
// With a reference engine (SoakOptions.reference: the same model loaded again, say without a draft and
// without a prompt cache), every request is answered again there with drafting off, and the greedy
// tokens must be the same: the prefix cache, its evictions and dropped documents, the drafts and their
// caches must never change what the model writes. Requests are then greedy and not cancelled (when a
// cancel lands decides what the engine remembers of a document, so the two would see different histories).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { CompletionOptions, CompletionRequest, DraftMode, GeneratedTokens } from '../completion/types';
import { Rng } from '../engine/sampler';
import { exposeGc } from './gc';
import { hostileText, LANGUAGE_OF, lineOf, offsetOfLine, pick, requestAt, type Doc } from './soakEditor';
import type { EngineEvent, EngineRequest, EngineStats, LoadParams, ModelInfo, PromptCacheStats } from '../host/engine/protocol';
import { DOCUMENTS_CACHED, EngineServer } from '../host/engine/server';

export interface SoakOptions {
  load: LoadParams;
  /** Source files the documents start from (real code: from node_modules). */
  files: string[];
  /** Documents the developer works in (more than the engine caches makes it drop some). */
  documents: number;
  requests: number;
  /** Requests before the baseline sample: caches fill, pipelines compile. */
  warmupRequests: number;
  sampleEvery: number;
  /** Tokens per completion. */
  maxTokens: number;
  /** The prompt budgets the provider cuts text to (the extension's defaults: 1024 / unset). */
  prefixTokens: number;
  suffixTokens?: number;
  /** A request not answered within this is a hang. */
  requestTimeoutMs: number;
  /**
   * Most the heap after GC may grow from the baseline to the last sample. Some caches fill for a while
   * (the tokenizer's word cache holds up to 10,000 words, the deleted-text memory 64 documents); a leak
   * of a few kilobytes a request outgrows them.
   */
  heapGrowthLimitBytes: number;
  seed: number;
  /** A second engine's load: it answers every request again, drafting off, and must give the same tokens. */
  reference?: LoadParams;
  onSample?: (s: SoakSample) => void;
}

/** The prompt cache's figures a sample keeps (PromptCacheStats). */
const POOL_FIGURES = ['documents', 'blocksUsed', 'blocksCached', 'blocksFree', 'blocksTotal', 'evictions', 'documentsDropped'] as const;
type PoolFigures = Pick<PromptCacheStats, (typeof POOL_FIGURES)[number]>;

export interface SoakSample extends PoolFigures {
  requests: number;
  /** Milliseconds since the soak started. */
  atMs: number;
  heapUsedBytes: number;
  rssBytes: number;
  gpuBuffers: number;
  gpuBufferBytes: number;
}

export interface SoakResult {
  model: ModelInfo;
  /** The first is the baseline, taken after the warm-up. */
  samples: SoakSample[];
  /** Per outcome: a completion's stoppedBy, or an error's code. */
  outcomes: Record<string, number>;
  /** Per simulated action. */
  actions: Record<string, number>;
  /** The slowest answer, ms. */
  maxAnswerMs: number;
  /** Linear fit of the heap after GC over the samples from the baseline on, bytes per request. */
  heapSlopeBytesPerRequest: number;
  /** What did not add up (empty: none). */
  problems: string[];
  totalMs: number;
  /** With a reference engine: completions compared, and those whose tokens part at a near-tie (tolerated, see NEAR_TIE_P). */
  reference?: { compared: number; nearTies: number; tokens: number };
}

/**
 * Two engines prefill a prompt in different batches (one reuses cached blocks), so their logits differ in
 * the last bits, and where the top two tokens nearly tie the greedy choice may differ. A divergence where
 * the token the reference chose had probability at most this is such a tie; above it, its logit leads the
 * next by ln(0.6 / 0.4) = 0.41 or more, which rounding cannot bridge: a real difference.
 */
export const NEAR_TIE_P = 0.6;

/** Where two completions' tokens part (undefined: the same), and the probability that decides whether it is a near-tie. */
export function divergence(got: GeneratedTokens, want: GeneratedTokens): { at: number; p: number } | undefined {
  const n = Math.max(got.ids.length, want.ids.length);
  for (let i = 0; i < n; i++) {
    if (got.ids[i] === want.ids[i]) continue;
    // One stopped (a stop token) where the other went on: the token that went on is the evidence.
    return { at: i, p: i < want.ids.length ? want.probabilities[i] : got.probabilities[i] };
  }
  return undefined;
}

/** The engine's request handler in this process, with the requests' answers matched by id. */
class InProcessEngine {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (e: EngineEvent) => void; onChunk?: (text: string) => void }>();
  readonly server = new EngineServer((e) => this.receive(e));

  private receive(e: EngineEvent): void {
    if (!('id' in e)) return;
    const w = this.waiting.get(e.id);
    if (!w) return;
    if (e.type === 'chunk') { w.onChunk?.(e.text); return; }
    if (e.type === 'progress') return;
    this.waiting.delete(e.id);
    w.resolve(e);
  }

  /** Sends the request made by `make` with a fresh id; resolves with its final event. */
  send(make: (id: number) => EngineRequest, onChunk?: (text: string) => void): { id: number; answer: Promise<EngineEvent> } {
    const id = this.nextId++;
    const answer = new Promise<EngineEvent>((resolve) => this.waiting.set(id, { resolve, onChunk }));
    this.server.handle(make(id));
    return { id, answer };
  }

  async stats(gc: boolean): Promise<EngineStats> {
    const e = await this.send((id) => ({ type: 'stats', id, gc })).answer;
    if (e.type !== 'stats') throw new Error(`stats answered ${e.type}`);
    return e.stats;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const gc = exposeGc();
  const rng = new Rng(o.seed);
  const t0 = performance.now();
  const engine = new InProcessEngine();
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};
  const actions: Record<string, number> = {};
  const samples: SoakSample[] = [];
  let maxAnswerMs = 0;

  const loaded = await engine.send((id) => ({ type: 'load', id, params: o.load })).answer;
  if (loaded.type !== 'loaded') throw new Error(`load failed: ${loaded.type === 'error' ? loaded.error.message : loaded.type}`);
  const reference = o.reference && new InProcessEngine();
  const compared = { compared: 0, nearTies: 0, tokens: 0 };
  const loadReference = async () => {
    const e = reference && await reference.send((id) => ({ type: 'load', id, params: o.reference! })).answer;
    if (e && e.type !== 'loaded') throw new Error(`the reference engine's load failed: ${e.type === 'error' ? e.error.message : e.type}`);
  };
  await loadReference();
  const drafts: DraftMode[] = loaded.info.draft ? ['off', 'ngram', 'model', 'model+ngram'] : ['off', 'ngram'];

  const sources = o.files.map((f) => readFileSync(f, 'utf8'));
  const docs: Doc[] = Array.from({ length: o.documents }, (_, i) => {
    const file = o.files[i % o.files.length];
    const text = sources[i % sources.length];
    const ext = file.split('.').pop() ?? '';
    return { id: `file:///soak/${i}/${basename(file)}`, path: `soak/${i}/${basename(file)}`, languageId: LANGUAGE_OF[ext] ?? 'plaintext', text, cursor: Math.floor(rng.next() * text.length) };
  });
  let current = docs[0];
  const recent: Doc[] = [];
  /** Code-like text to type: a piece of another place in the document. */
  const typed = (d: Doc, n: number) => { const at = Math.floor(rng.next() * Math.max(1, d.text.length - n)); return d.text.slice(at, at + n) || 'x'; };
  const insert = (d: Doc, s: string) => { d.text = d.text.slice(0, d.cursor) + s + d.text.slice(d.cursor); d.cursor += s.length; };
  const remove = (d: Doc, n: number) => { const from = Math.max(0, d.cursor - n); d.text = d.text.slice(0, from) + d.text.slice(d.cursor); d.cursor = from; };

  const options = (): CompletionOptions => ({
    maxTokens: o.maxTokens,
    multiline: rng.next() < 0.5 ? 'auto' : 'always',
    temperature: !reference && rng.next() < 0.15 ? 0.7 : 0,
    draft: drafts[Math.floor(rng.next() * drafts.length)],
    prefixTokens: o.prefixTokens,
    suffixTokens: o.suffixTokens,
  });
  const withTimeout = async (p: Promise<EngineEvent>, what: string): Promise<EngineEvent | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const sent = performance.now();
    const e = await Promise.race([p, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), o.requestTimeoutMs); })]);
    clearTimeout(timer);
    maxAnswerMs = Math.max(maxAnswerMs, performance.now() - sent);
    if (!e) problems.push(`${what}: no answer within ${o.requestTimeoutMs} ms`);
    return e;
  };
  const record = (e: EngineEvent | undefined): string | undefined => {
    if (!e) return undefined;
    const key = e.type === 'completed' ? e.result.stoppedBy : e.type === 'error' ? e.error.code : e.type;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (e.type === 'error' && e.error.code === 'INTERNAL') problems.push(`internal error: ${e.error.message.split('\n')[0]}`);
    return e.type === 'completed' ? e.result.text : undefined;
  };
  const complete = (req: CompletionRequest, onChunk?: (id: number) => void) => {
    let id = 0;
    const opts = options();
    const sent = engine.send((i) => ({ type: 'complete', id: (id = i), request: req, options: opts }), onChunk && (() => onChunk(id)));
    return reference ? { ...sent, answer: sent.answer.then((e) => againOnReference(req, opts, e)) } : sent;
  };
  /** The same request on the reference engine, drafting off; a difference in the greedy tokens is a problem. Resolves with `e`. */
  const againOnReference = async (req: CompletionRequest, opts: CompletionOptions, e: EngineEvent): Promise<EngineEvent> => {
    const r = await reference!.send((id) => ({ type: 'complete', id, request: req, options: { ...opts, draft: 'off' } })).answer;
    if (e.type !== 'completed' || r.type !== 'completed') {
      if (e.type !== r.type) problems.push(`${req.path}: answered ${e.type}, the reference ${r.type}`);
      return e;
    }
    const got = e.result.tokens ?? { ids: [], probabilities: [], offsets: [] };
    const want = r.result.tokens ?? { ids: [], probabilities: [], offsets: [] };
    compared.compared++;
    compared.tokens += want.ids.length;
    const d = divergence(got, want);
    if (d && d.p > NEAR_TIE_P) {
      problems.push(`${req.path} (draft ${opts.draft}): token ${d.at} is ${got.ids[d.at] ?? 'the end'}, the reference's ${want.ids[d.at] ?? 'the end'} (p ${d.p.toFixed(3)})`);
    } else if (d) compared.nearTies++;
    return e;
  };
  const sample = async (requests: number) => {
    // Discarded pipelined passes settle (their staging buffers are freed after): let the queue drain.
    await new Promise((r) => setTimeout(r, 20));
    const s = await engine.stats(true);
    const pool = Object.fromEntries(POOL_FIGURES.map((k) => [k, s.promptCache?.[k] ?? 0])) as PoolFigures;
    const x: SoakSample = {
      requests, atMs: performance.now() - t0, heapUsedBytes: s.heapUsedBytes, rssBytes: s.rssBytes,
      gpuBuffers: s.gpuBuffers.buffers, gpuBufferBytes: s.gpuBuffers.bytes, ...pool,
    };
    if (!s.gcRan) problems.push('the stats were taken without a full GC');
    if (x.blocksUsed + x.blocksCached + x.blocksFree !== x.blocksTotal) problems.push(`at ${requests} requests the KV pool does not add up: ${x.blocksUsed} used + ${x.blocksCached} cached + ${x.blocksFree} free != ${x.blocksTotal}`);
    samples.push(x);
    o.onSample?.(x);
  };

  try {
    let done = 0;
    while (done < o.requests) {
      const action = pick(rng);
      actions[action] = (actions[action] ?? 0) + 1;
      const d = current;
      switch (action) {
        case 'type': insert(d, typed(d, 1 + Math.floor(rng.next() * 3))); break;
        case 'backspace': remove(d, 1 + Math.floor(rng.next() * 2)); break;
        case 'newline': insert(d, '\n' + ' '.repeat(2 * Math.floor(rng.next() * 4))); break;
        case 'jump': d.cursor = offsetOfLine(d.text, Math.floor(rng.next() * (lineOf(d.text, d.text.length) + 1))); break;
        case 'switch':
          recent.unshift(d);
          recent.splice(2);
          current = docs[Math.floor(rng.next() * docs.length)];
          break;
        case 'paste': insert(d, typed(docs[Math.floor(rng.next() * docs.length)], 2000 + Math.floor(rng.next() * 3000))); break;
        case 'cut': remove(d, 1000 + Math.floor(rng.next() * 5000)); break;
        case 'hostile': {
          // A binary or one-line file opened for one request; its text is dropped after (the engine's
          // cache of it is not: one more document for its LRU).
          const n = actions.hostile;
          const text = hostileText(rng);
          const h: Doc = { id: `file:///soak/hostile/${n}`, path: `soak/hostile/${n}.txt`, languageId: 'plaintext', text, cursor: Math.floor(rng.next() * text.length) };
          record(await withTimeout(complete(requestAt(h, [], o)).answer, `request ${done} (hostile)`));
          done++;
          continue;
        }
        case 'clear':
          record(await withTimeout(engine.send((id) => ({ type: 'clearCache', id })).answer, 'clearCache'));
          await reference?.send((id) => ({ type: 'clearCache', id })).answer;
          continue;
        case 'reload':
          // A setting changed (model, memory, KV type): the engine loads the model again and disposes the old
          // one, which must give back every buffer it held.
        {
          const e = await withTimeout(engine.send((id) => ({ type: 'load', id, params: o.load })).answer, 'load');
          record(e);
          if (e && e.type !== 'loaded') problems.push(`loading the model again failed: ${e.type === 'error' ? e.error.message : e.type}`);
          // A new model starts with no memory of the documents' windows: the reference's must match.
          await loadReference();
          continue;
        }
        case 'again': break;
      }
      const others = recent.filter((r) => r !== current);
      const req = requestAt(current, others, o);
      if (reference && (action === 'cancel' || action === 'supersede')) {
        record(await withTimeout(complete(req).answer, `request ${done}`));
      } else if (action === 'cancel') {
        // The user types on while the completion streams: cancelled after its first chunk.
        const c = complete(req, (id) => engine.server.handle({ type: 'cancel', id: 0, target: id }));
        record(await withTimeout(c.answer, `request ${done}`));
      } else if (action === 'supersede') {
        // Keystrokes while a request runs and another waits: the running one is cancelled mid-way, the
        // queued one before it starts, and the newest runs.
        const running = complete(req);
        insert(current, typed(current, 1));
        const queued = complete(requestAt(current, others, o));
        engine.server.handle({ type: 'cancel', id: 0, target: running.id });
        engine.server.handle({ type: 'cancel', id: 0, target: queued.id });
        insert(current, typed(current, 1));
        const newest = complete(requestAt(current, others, o));
        for (const [i, c] of [running, queued, newest].entries()) record(await withTimeout(c.answer, `request ${done + i}`));
        done += 2;
      } else {
        const text = record(await withTimeout(complete(req).answer, `request ${done}`));
        if (action === 'accept' && text) insert(current, text);
      }
      done++;
      if (problems.length > 20) break;
      if (done >= o.warmupRequests && (samples.length === 0 || done - samples[samples.length - 1].requests >= o.sampleEvery)) await sample(done);
    }
    if (samples[samples.length - 1]?.requests !== done) await sample(done);
  } finally {
    await engine.send((id) => ({ type: 'dispose', id })).answer;
    await reference?.send((id) => ({ type: 'dispose', id })).answer;
    gc();
  }
  const base = samples[0];
  for (const s of samples.slice(1)) {
    if (s.gpuBuffers !== base.gpuBuffers || s.gpuBufferBytes !== base.gpuBufferBytes) {
      problems.push(`GPU buffers at ${s.requests} requests: ${s.gpuBuffers} (${s.gpuBufferBytes} bytes), after the warm-up ${base.gpuBuffers} (${base.gpuBufferBytes} bytes)`);
      break;
    }
  }
  const last = samples[samples.length - 1];
  if (last.heapUsedBytes - base.heapUsedBytes > o.heapGrowthLimitBytes) {
    problems.push(`the heap after GC grew by ${last.heapUsedBytes - base.heapUsedBytes} bytes from ${base.requests} to ${last.requests} requests (limit ${o.heapGrowthLimitBytes})`);
  }
  const most = Math.max(...samples.map((s) => s.documents));
  if (most > DOCUMENTS_CACHED) problems.push(`${most} documents cached, more than the engine's ${DOCUMENTS_CACHED}`);
  return {
    model: loaded.info, samples, outcomes, actions, maxAnswerMs, heapSlopeBytesPerRequest: slope(samples.map((s) => [s.requests, s.heapUsedBytes])), problems,
    totalMs: performance.now() - t0, ...(reference ? { reference: compared } : {}),
  };
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}
