// GGUF files on this machine, for the "Select Model" quick pick: the configured folder, Tandem's own
// cache (downloads included), the Hugging Face hub cache, LM Studio's folders, and Ollama's models, which
// are GGUF blobs without a .gguf name, found through Ollama's manifests. No 'vscode' import: unit-tested.

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface FoundModel {
  path: string;
  bytes: number;
  /** Which place it was found in. */
  source: string;
  /** What to show instead of the file name (Ollama: "qwen2.5-coder:1.5b"). */
  label?: string;
}

export function modelFolders(configured: string): { dir: string; source: string }[] {
  const home = homedir();
  const cache = process.env.XDG_CACHE_HOME ?? join(home, '.cache');
  const out = [
    { dir: configured, source: 'tandem.modelsFolder' },
    { dir: join(process.env.TANDEM_CACHE_DIR ?? join(cache, 'tandem'), 'models'), source: 'Tandem cache' },
    { dir: join(process.env.HF_HOME ?? join(cache, 'huggingface'), 'hub'), source: 'Hugging Face cache' },
    { dir: join(home, '.lmstudio', 'models'), source: 'LM Studio' },
    { dir: join(cache, 'lm-studio', 'models'), source: 'LM Studio' },
  ];
  return out.filter((f) => f.dir && existsSync(f.dir));
}

/** Every *.gguf under the folders, at most `maxDepth` levels down, largest folders not walked past `limit` files. */
export function findModels(configured: string, maxDepth = 6, limit = 500): FoundModel[] {
  const found = new Map<string, FoundModel>();
  const walk = (dir: string, depth: number, source: string) => {
    if (depth > maxDepth || found.size >= limit) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1, source);
      else if (n.toLowerCase().endsWith('.gguf') && st.size > 0 && !found.has(p)) found.set(p, { path: p, bytes: st.size, source });
    }
  };
  for (const f of modelFolders(configured)) walk(f.dir, 0, f.source);
  for (const m of findOllamaModels()) if (!found.has(m.path)) found.set(m.path, m);
  return [...found.values()].sort((a, b) => a.path.localeCompare(b.path));
}

// Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models):
//   manifests/<host>/<namespace>/<name>/<tag>   JSON {layers: [{mediaType, digest: "sha256:<hex>", size}]}
//   blobs/sha256-<hex>                          (sha256:<hex> in old versions)
// The layer with mediaType application/vnd.ollama.image.model is the GGUF; the others are the template,
// parameters, licence (and a projector for vision models).
const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';
const OLLAMA_REGISTRY = 'registry.ollama.ai';

export function ollamaModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OLLAMA_MODELS || join(homedir(), '.ollama', 'models');
}

/** Ollama's name for a manifest path: library models as "name:tag", others with their namespace (and host). */
export function ollamaLabel(host: string, namespace: string, name: string, tag: string): string {
  if (host === OLLAMA_REGISTRY) return `${namespace === 'library' ? '' : `${namespace}/`}${name}:${tag}`;
  return `${host}/${namespace}/${name}:${tag}`;
}

/** Every pulled Ollama model whose model layer is a GGUF blob on disk, labelled "name:tag". */
export function findOllamaModels(root: string = ollamaModelsDir()): FoundModel[] {
  const manifests = join(root, 'manifests');
  const out: FoundModel[] = [];
  for (const host of dirs(manifests)) {
    for (const ns of dirs(join(manifests, host))) {
      for (const name of dirs(join(manifests, host, ns))) {
        for (const tag of files(join(manifests, host, ns, name))) {
          const blob = modelBlob(root, join(manifests, host, ns, name, tag));
          if (blob) out.push({ ...blob, source: 'Ollama', label: ollamaLabel(host, ns, name, tag) });
        }
      }
    }
  }
  return out.sort((a, b) => a.label!.localeCompare(b.label!));
}

function modelBlob(root: string, manifestPath: string): { path: string; bytes: number } | undefined {
  let layers: Array<{ mediaType?: string; digest?: string }>;
  try {
    layers = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { layers?: typeof layers }).layers ?? [];
  } catch {
    return undefined; // not a manifest (a stray file): skip it
  }
  const digest = layers.find((l) => l.mediaType === OLLAMA_MODEL_LAYER)?.digest;
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest ?? '');
  if (!m) return undefined;
  for (const file of [`sha256-${m[1]}`, `sha256:${m[1]}`]) {
    const path = join(root, 'blobs', file);
    try {
      const st = statSync(path);
      if (st.isFile() && isGguf(path)) return { path, bytes: st.size };
    } catch {
      // not under this name
    }
  }
  return undefined;
}

function isGguf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

function entries(dir: string, wantDir: boolean): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => (wantDir ? d.isDirectory() : d.isFile())).map((d) => d.name);
  } catch {
    return [];
  }
}
const dirs = (dir: string) => entries(dir, true);
const files = (dir: string) => entries(dir, false);
