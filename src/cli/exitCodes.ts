// Exit codes a script can rely on, and how errors are printed.

import { TandemError } from '../common/errors';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  noAdapter: 3,
  badModel: 4,
  outOfMemory: 5,
  deviceLost: 6,
  noNodeRuntime: 7,
  cancelled: 130,
} as const;

export function exitCodeOf(e: unknown): number {
  if (!(e instanceof TandemError)) return EXIT.failure;
  switch (e.code) {
    case 'USAGE': return EXIT.usage;
    case 'ADAPTER_UNAVAILABLE':
    case 'FEATURE_UNAVAILABLE': return EXIT.noAdapter;
    case 'MODEL_FORMAT':
    case 'UNSUPPORTED_QUANT':
    case 'UNSUPPORTED_MODEL':
    case 'TOKENIZER': return EXIT.badModel;
    case 'OUT_OF_MEMORY': return EXIT.outOfMemory;
    case 'DEVICE_LOST': return EXIT.deviceLost;
    case 'CANCELLED': return EXIT.cancelled;
    case 'NODE_RUNTIME_UNAVAILABLE':
    case 'NODE_RUNTIME_DOWNLOAD': return EXIT.noNodeRuntime;
    case 'MODEL_DOWNLOAD': return EXIT.failure;
  }
}

/** `tandem: <message>` and, for typed errors, what to do; with --json a {"error": ...} line on stdout. */
export function reportError(e: unknown, json: boolean): number {
  const code = exitCodeOf(e);
  const err = e as Error;
  if (json) {
    const t = e instanceof TandemError ? e : undefined;
    process.stdout.write(JSON.stringify({ error: { code: t?.code ?? 'INTERNAL', message: err.message, hint: t?.hint } }) + '\n');
  }
  process.stderr.write(`tandem: ${err.message}\n`);
  if (e instanceof TandemError && e.hint) process.stderr.write(`  ${e.hint}\n`);
  else if (!(e instanceof TandemError) && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}
