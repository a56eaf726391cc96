// GGUF files on this machine, for the "Select Model" quick pick: the configured folder, Tandem's own
// cache, the Hugging Face hub cache and LM Studio's folders. (Ollama stores blobs without a .gguf name;
// point "tandem.modelsFolder" at a folder of GGUFs instead.)

import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface FoundModel {
  path: string;
  bytes: number;
  /** Which place it was found in. */
  source: string;
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
  return [...found.values()].sort((a, b) => a.path.localeCompare(b.path));
}
