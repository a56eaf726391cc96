// The three wire formats, each as a request body and a decoder from the streamed body to text pieces:
//  - openai:  POST /v1/completions, raw FIM prompt, SSE `data: {choices:[{text}]}` ... `data: [DONE]`
//             (vLLM, SGLang, llama-server, LM Studio, TGI, any OpenAI-compatible server);
//  - llama-server-infill: POST /infill, the server lays out the FIM prompt from the model's own tokens,
//             SSE `data: {content, stop}` (no [DONE]);
//  - ollama:  POST /api/generate with raw: true, newline-delimited JSON `{response, done}`.

import type { PromptBudgets } from '../completion/prompt';
import type { FimOrder, TemplateName } from '../completion/templates';
import type { CompletionRequest } from '../completion/types';
import type { KeepPrefixWindow } from '../completion/window';
import { protocolError } from './errors';
import { buildTextPrompt, windows } from './prompt';
import { ndjsonLines, sseEvents } from './sse';

export const REMOTE_APIS = ['openai', 'llama-server-infill', 'ollama'] as const;
export type RemoteApi = (typeof REMOTE_APIS)[number];

/** One decoded piece of the stream. */
export interface StreamPiece {
  text: string;
  /** Set on the server's last word: why it stopped. */
  finish?: 'stop' | 'length';
  usage?: Usage;
}

/** A server's token counts: the prompt's, the prompt tokens its prefix cache held (not prefilled), the generated ones. */
export interface Usage {
  promptTokens?: number;
  reusedTokens?: number;
  generatedTokens?: number;
}

export interface WireRequest {
  path: string;
  json: unknown;
  /** The windows as sent (post-processing and the stop rule use them): the prefix up to the cursor, and its end that went after the middle token. */
  prefix: string;
  middle: string;
  suffix: string;
  /** Document line where the prefix window starts (for the document's next request). */
  prefixStartLine: number;
  template: string;
}

export interface BuildArgs {
  req: CompletionRequest;
  model: string;
  template: TemplateName;
  budgets: PromptBudgets;
  maxTokens: number;
  temperature: number;
  /** The document's recent window starts (completion/window.ts PrefixStarts). */
  keep?: KeepPrefixWindow;
  /** FIM order (tandem.fimOrder); the family's default when absent. */
  fimOrder?: FimOrder;
  /** The typed middle after the middle token, in PSM order (completion/middle.ts); raw prompts only (not /infill). */
  typedMiddle?: boolean;
}

/** `base` joined with an API path, tolerating a base that already ends in /v1 (as OpenAI clients expect). */
export function endpoint(base: string, path: string): URL {
  const b = base.replace(/\/+$/, '');
  const root = b.replace(/\/v1$/, '');
  return new URL(root + path);
}

export function buildWireRequest(api: RemoteApi, a: BuildArgs): WireRequest {
  if (api === 'llama-server-infill') {
    // The server lays out the model's FIM format. No typed middle: llama-server's /infill documents
    // `prompt` as "added after FIM_MID", but its format_infill appends it to the prefix, before the suffix
    // (llama-server b11669: a request typed on in `prompt` reused 9 of 33 tokens), so there is nothing to gain.
    const w = windows(a.req, a.budgets, undefined, a.keep);
    return {
      path: '/infill',
      prefix: w.prefix,
      middle: w.middle,
      suffix: w.suffix,
      prefixStartLine: w.prefixStartLine,
      template: 'server (/infill)',
      json: {
        input_prefix: w.prefix,
        input_suffix: w.suffix,
        input_extra: w.files.map((f) => ({ filename: f.path, text: f.text })),
        n_predict: a.maxTokens,
        temperature: a.temperature,
        stream: true,
        cache_prompt: true,
      },
    };
  }
  const p = buildTextPrompt(a.template, a.req, a.budgets, undefined, a.keep, a.fimOrder, a.typedMiddle ?? true);
  if (api === 'ollama') {
    return {
      path: '/api/generate',
      prefix: p.prefix,
      middle: p.middle,
      suffix: p.suffix,
      prefixStartLine: p.prefixStartLine,
      template: a.template,
      json: { model: a.model, prompt: p.text, raw: true, stream: true, options: { num_predict: a.maxTokens, temperature: a.temperature, ...(p.stop.length ? { stop: p.stop } : {}) } },
    };
  }
  return {
    path: '/v1/completions',
    prefix: p.prefix,
    middle: p.middle,
    suffix: p.suffix,
    prefixStartLine: p.prefixStartLine,
    template: a.template,
    json: {
      ...(a.model ? { model: a.model } : {}),
      prompt: p.text,
      max_tokens: a.maxTokens,
      temperature: a.temperature,
      stream: true,
      stream_options: { include_usage: true },
      ...(p.stop.length ? { stop: p.stop } : {}),
    },
  };
}

/** Malformed events tolerated in one stream (a proxy's stray line) before the stream counts as broken. */
const MAX_MALFORMED = 3;

/**
 * The pieces of one streamed body. Malformed events are skipped (and reported) up to MAX_MALFORMED; an
 * error event, too many malformed ones, or a body without a single valid event is a protocol error.
 */
export async function* decodeStream(api: RemoteApi, body: AsyncIterable<Buffer>, where: string, onMalformed?: (line: string) => void): AsyncGenerator<StreamPiece> {
  let valid = 0;
  let malformed = 0;
  const bad = (line: string) => {
    malformed++;
    onMalformed?.(line.slice(0, 200));
    if (malformed > MAX_MALFORMED) throw protocolError(where, `${malformed} malformed events, e.g. '${line.slice(0, 80)}'`);
  };
  const events = api === 'ollama' ? ndjsonLines(body) : dataOf(sseEvents(body));
  for await (const data of events) {
    if (data === '[DONE]') {
      valid++;
      break;
    }
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(data);
    } catch {
      bad(data);
      continue;
    }
    if (j === null || typeof j !== 'object') {
      bad(data);
      continue;
    }
    if (j.error !== undefined) {
      const e = j.error as string | { message?: string };
      throw protocolError(where, `the server reported an error mid-stream: ${typeof e === 'string' ? e : e.message ?? JSON.stringify(e)}`);
    }
    const piece = api === 'openai' ? openaiPiece(j) : api === 'ollama' ? ollamaPiece(j) : infillPiece(j);
    if (!piece) {
      bad(data);
      continue;
    }
    valid++;
    yield piece;
    // Servers without [DONE] (infill, Ollama) end with a final object: nothing follows it.
    if (piece.finish && api !== 'openai') break;
  }
  if (valid === 0) throw protocolError(where, malformed ? `no valid event (${malformed} malformed)` : 'an empty stream');
}

async function* dataOf(events: AsyncIterable<{ data: string }>): AsyncGenerator<string> {
  for await (const e of events) yield e.data;
}

function openaiPiece(j: Record<string, unknown>): StreamPiece | undefined {
  const choices = j.choices as { text?: unknown; finish_reason?: unknown }[] | undefined;
  const u = j.usage as { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null } | undefined | null;
  // prompt_tokens_details.cached_tokens: llama-server, vLLM (with --enable-prompt-tokens-details), OpenAI.
  const usage = u ? { promptTokens: u.prompt_tokens, reusedTokens: u.prompt_tokens_details?.cached_tokens ?? undefined, generatedTokens: u.completion_tokens } : undefined;
  if (!Array.isArray(choices)) return usage ? { text: '', usage } : undefined;
  const c = choices[0] ?? {};
  if (c.text !== undefined && typeof c.text !== 'string') return undefined;
  const finish = c.finish_reason === 'length' ? 'length' : c.finish_reason ? 'stop' : undefined;
  return { text: (c.text as string | undefined) ?? '', finish, usage };
}

function infillPiece(j: Record<string, unknown>): StreamPiece | undefined {
  if (typeof j.content !== 'string') return undefined;
  if (!j.stop) return { text: j.content };
  // tokens_evaluated: the whole prompt; timings.prompt_n: the tokens prefilled, cache_n: those its slot held.
  const t = j.timings as { prompt_n?: number; cache_n?: number; predicted_n?: number } | undefined;
  const finish = j.stop_type === 'limit' || j.truncated === true && j.stop_type !== 'eos' ? 'length' : 'stop';
  const promptTokens = (j.tokens_evaluated as number | undefined) ?? (t?.prompt_n !== undefined ? t.prompt_n + (t.cache_n ?? 0) : undefined);
  return { text: j.content, finish, usage: { promptTokens, reusedTokens: t?.cache_n, generatedTokens: t?.predicted_n ?? (j.tokens_predicted as number | undefined) } };
}

function ollamaPiece(j: Record<string, unknown>): StreamPiece | undefined {
  if (typeof j.response !== 'string' && j.done !== true) return undefined;
  const text = typeof j.response === 'string' ? j.response : '';
  if (j.done !== true) return { text };
  return { text, finish: j.done_reason === 'length' ? 'length' : 'stop', usage: { promptTokens: j.prompt_eval_count as number | undefined, generatedTokens: j.eval_count as number | undefined } };
}
