// Stream framing: Server-Sent Events (OpenAI-compatible servers, llama-server) and newline-delimited JSON
// (Ollama), as async generators over the raw body chunks. Chunks end anywhere: mid-line, mid-CRLF, even
// mid-UTF-8 sequence; lines are only judged once complete.

/** One SSE event: its `data:` lines joined by '\n', and its `event:` name when given. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** The body's lines (without their '\n' or '\r\n'), decoding UTF-8 across chunk boundaries. The last line
 *  is yielded even when it lacks a newline. */
export async function* lines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
  }
  pending += decoder.decode();
  if (pending) yield pending.endsWith('\r') ? pending.slice(0, -1) : pending;
}

/**
 * SSE events per the WHATWG rules that matter here: 'data:' lines accumulate (one optional space after
 * the colon is dropped), a blank line dispatches, ':' lines are comments (keep-alives), unknown fields
 * are ignored. An event still open when the stream ends is dispatched too (servers that end without the
 * last blank line).
 */
export async function* sseEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  let data: string[] = [];
  let event: string | undefined;
  for await (const line of lines(body)) {
    if (line === '') {
      if (data.length) yield { event, data: data.join('\n') };
      data = [];
      event = undefined;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  if (data.length) yield { event, data: data.join('\n') };
}

/** Non-blank lines of a newline-delimited JSON body (Ollama's stream), unparsed. */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  for await (const line of lines(body)) if (line.trim() !== '') yield line;
}
