// Typed errors of the remote backend, each saying what went wrong with the server and what to do. The
// status bar and the notifications show `message` and `hint`; `retryable` drives the retry loop and the
// fallback to the local engine.

export type RemoteErrorCode =
  | 'REMOTE_UNREACHABLE' // nothing listens at the URL, DNS fails, the connection is refused
  | 'REMOTE_TIMEOUT' //     no answer (or no next token) within the time allowed
  | 'REMOTE_CLOSED' //      the connection dropped mid-stream
  | 'REMOTE_AUTH' //        401/403
  | 'REMOTE_RATE_LIMITED' // 429
  | 'REMOTE_SERVER' //      5xx
  | 'REMOTE_NOT_SUPPORTED' // 404/405/501: the endpoint does not exist on this server (or for this model)
  | 'REMOTE_BAD_REQUEST' // other 4xx
  | 'REMOTE_PROTOCOL' //    a body that is not the protocol (malformed SSE or JSON, an error event)
  | 'REMOTE_CONFIG'; //     a URL or setting Tandem refuses before sending anything

export class RemoteError extends Error {
  constructor(
    readonly code: RemoteErrorCode,
    message: string,
    readonly hint: string,
    readonly o: { status?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: o.cause });
    this.name = 'RemoteError';
  }

  get status(): number | undefined {
    return this.o.status;
  }

  /** Worth trying again soon: the server may be back or less busy. */
  get retryable(): boolean {
    return this.o.retryable ?? false;
  }

  get retryAfterMs(): number | undefined {
    return this.o.retryAfterMs;
  }
}

export function unreachable(url: string, cause: unknown): RemoteError {
  const why = (cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message ?? String(cause);
  return new RemoteError('REMOTE_UNREACHABLE', `cannot reach the completion server at ${url} (${why})`,
    'Start the server, or check tandem.remote.url; with tandem.remote.fallbackToLocal the local engine answers meanwhile.',
    { retryable: true, cause });
}

export function timedOut(url: string, what: string, ms: number): RemoteError {
  return new RemoteError('REMOTE_TIMEOUT', `the completion server at ${url} ${what} within ${ms} ms`,
    'The server is busy or slow; raise tandem.remote.timeoutMs or use a smaller model.', { retryable: false });
}

export function closedMidStream(url: string, cause?: unknown): RemoteError {
  return new RemoteError('REMOTE_CLOSED', `the completion server at ${url} closed the connection mid-completion`,
    'The server may have stopped or restarted; the next completion tries again.', { retryable: true, cause });
}

export function protocolError(url: string, detail: string): RemoteError {
  return new RemoteError('REMOTE_PROTOCOL', `the completion server at ${url} sent something unexpected: ${detail}`,
    'Check tandem.remote.api: it must match the server (openai, llama-server-infill or ollama).');
}

/** The error for an HTTP status other than 2xx; `body` is the start of the response body (servers explain there). */
export function httpError(url: string, status: number, body: string, retryAfterMs?: number): RemoteError {
  const detail = extractMessage(body);
  const said = detail ? `: ${detail}` : '';
  if (status === 401 || status === 403) {
    return new RemoteError('REMOTE_AUTH', `the completion server refused the API key (HTTP ${status})${said}`,
      'Set the key with "Tandem: Set Remote API Key" (it is kept in VS Code\'s secret storage).', { status });
  }
  if (status === 429) {
    return new RemoteError('REMOTE_RATE_LIMITED', `the completion server is rate-limiting requests (HTTP 429)${said}`,
      'Too many requests for this key or server; completions resume when the limit resets.', { status, retryable: true, retryAfterMs });
  }
  if (status === 404 || status === 405 || status === 501) {
    return new RemoteError('REMOTE_NOT_SUPPORTED', `the completion server does not offer ${url} (HTTP ${status})${said}`,
      'Check tandem.remote.api and tandem.remote.url (llama-server answers /infill only for models with FIM tokens).', { status });
  }
  if (status >= 500) {
    return new RemoteError('REMOTE_SERVER', `the completion server failed (HTTP ${status})${said}`,
      'The server\'s own log says why; "Tandem: Show Logs" has the request.', { status, retryable: status === 502 || status === 503 || status === 504, retryAfterMs });
  }
  // llama-server: "exceeds the available context size"; vLLM/OpenAI: "maximum context length is N tokens".
  const tooLong = /context (size|length)|maximum context|too many tokens/i.test(detail);
  return new RemoteError('REMOTE_BAD_REQUEST', `the completion server rejected the request (HTTP ${status})${said}`,
    tooLong
      ? 'The prompt is longer than the server\'s context: set tandem.maxContextTokens to the server\'s context length (llama-server -c, vLLM --max-model-len), or lower the tandem.context.* budgets.'
      : 'Check tandem.remote.model and tandem.remote.api.', { status });
}

/** The human part of an error body: OpenAI's {error:{message}}, Ollama's {error}, or the text itself. */
function extractMessage(body: string): string {
  const text = body.trim();
  if (!text) return '';
  try {
    const j = JSON.parse(text) as { error?: string | { message?: string }; message?: string };
    const m = typeof j.error === 'string' ? j.error : j.error?.message ?? j.message;
    if (m) return String(m).slice(0, 300);
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ').slice(0, 300);
}
