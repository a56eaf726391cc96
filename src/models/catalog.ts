// Models Tandem can fetch by name, and where it keeps them. A name resolves to a GGUF in the cache
// ($TANDEM_CACHE_DIR, else $XDG_CACHE_HOME/tandem, else ~/.cache/tandem), built on first use:
// stories260K comes as a llama2.c checkpoint (from a local copy when one is found, else from Hugging Face,
// checked against its SHA-256) and is converted to GGUF.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../common/errors';
import { convertLlama2c } from '../loaders/llama2c';

export interface RemoteFile {
  url: string;
  sha256: string;
  bytes: number;
}

interface Llama2cEntry {
  name: string;
  description: string;
  checkpoint: RemoteFile;
  tokenizer: RemoteFile;
}

const HF = 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K';

export const CATALOG: Record<string, Llama2cEntry> = {
  stories260K: {
    name: 'stories260K',
    description: 'a 260K-parameter Llama trained on TinyStories (llama2.c, MIT): tiny, for trying the engine',
    checkpoint: { url: `${HF}/stories260K.bin`, sha256: 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696', bytes: 1056540 },
    tokenizer: { url: `${HF}/tok512.bin`, sha256: '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312', bytes: 6227 },
  },
};

export function cacheRoot(): string {
  const dir = process.env.TANDEM_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tandem');
  mkdirSync(join(dir, 'models'), { recursive: true });
  return dir;
}

/** Tandem's models folder (<cache>/models): converted catalog models and downloads (src/models/hubDownload.ts). */
export function modelsDir(): string {
  return join(cacheRoot(), 'models');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Local folders that may already hold the checkpoint (a checkout's ../shared/models, for development). */
function localCandidates(entry: Llama2cEntry): string[] {
  const dirs = [process.env.TANDEM_MODELS_DIR, resolve(__dirname, '..', '..', 'shared', 'models'), resolve(process.cwd(), '..', 'shared', 'models')];
  return dirs.filter((d): d is string => !!d).map((d) => join(d, entry.name));
}

async function fetchVerified(file: RemoteFile, dest: string): Promise<void> {
  const res = await fetch(file.url).catch((e: Error) => {
    throw new UsageError(`could not download ${file.url}: ${e.message} (offline? put the file at ${dest} by hand)`);
  });
  if (!res.ok) throw new UsageError(`could not download ${file.url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== file.sha256) throw new UsageError(`${file.url}: checksum mismatch (got ${sum}); not saved`);
  const tmp = `${dest}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  renameSync(tmp, dest);
}

async function findOrFetch(entry: Llama2cEntry, file: RemoteFile, log: (s: string) => void): Promise<string> {
  const base = file.url.slice(file.url.lastIndexOf('/') + 1);
  for (const dir of localCandidates(entry)) {
    const p = join(dir, base);
    if (existsSync(p) && (await sha256File(p)) === file.sha256) return p;
  }
  const dest = join(cacheRoot(), 'models', `${entry.name}-${base}`);
  if (existsSync(dest) && (await sha256File(dest)) === file.sha256) return dest;
  log(`downloading ${file.url} (${file.bytes} bytes)`);
  await fetchVerified(file, dest);
  return dest;
}

/** A model name of the catalog → the path of its GGUF (built once); any other string is a path. */
export async function resolveModel(nameOrPath: string, log: (s: string) => void = () => {}): Promise<string> {
  const entry = CATALOG[nameOrPath];
  if (!entry) return nameOrPath;
  const out = join(cacheRoot(), 'models', `${entry.name}-f32.gguf`);
  if (existsSync(out)) return out;
  const checkpoint = await findOrFetch(entry, entry.checkpoint, log);
  const tokenizer = await findOrFetch(entry, entry.tokenizer, log);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await convertLlama2c(checkpoint, tokenizer, tmp, { type: 'f32', name: entry.name });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}
