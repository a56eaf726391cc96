// The "Select Model" list finds Ollama's pulled models: GGUF blobs named by digest, found through the
// manifests and shown as name:tag; the other layers, broken manifests and missing blobs are skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findModels, findOllamaModels, ollamaLabel, ollamaModelsDir } from '../../src/vscode/modelFinder';
import { tempDir } from '../fixtures/runtime/fakes';

const MODEL = 'application/vnd.ollama.image.model';

/** Writes a blob under blobs/sha256-<hex> and returns its digest "sha256:<hex>". */
function blob(root: string, content: Buffer): string {
  const hex = createHash('sha256').update(content).digest('hex');
  mkdirSync(join(root, 'blobs'), { recursive: true });
  writeFileSync(join(root, 'blobs', `sha256-${hex}`), content);
  return `sha256:${hex}`;
}

function manifest(root: string, path: string, layers: Array<{ mediaType: string; digest: string }>): void {
  const file = join(root, 'manifests', path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify({ schemaVersion: 2, config: { digest: 'sha256:' + '0'.repeat(64) }, layers }));
}

const gguf = (n: number) => Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), randomBytes(n)]);

function fakeOllama(): { root: string; coder: string; hf: string } {
  const root = tempDir('ollama');
  const template = blob(root, Buffer.from('{{ .Prompt }}'));
  const coder = blob(root, gguf(1000));
  const hf = blob(root, gguf(2000));
  manifest(root, 'registry.ollama.ai/library/qwen2.5-coder/1.5b', [
    { mediaType: MODEL, digest: coder },
    { mediaType: 'application/vnd.ollama.image.template', digest: template },
  ]);
  manifest(root, 'registry.ollama.ai/library/qwen2.5-coder/latest', [{ mediaType: MODEL, digest: coder }]); // same blob, two tags
  manifest(root, 'hf.co/ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF/Q8_0', [{ mediaType: MODEL, digest: hf }]);
  manifest(root, 'registry.ollama.ai/library/missing/7b', [{ mediaType: MODEL, digest: 'sha256:' + 'a'.repeat(64) }]); // blob deleted
  manifest(root, 'registry.ollama.ai/library/notgguf/1b', [{ mediaType: MODEL, digest: template }]); // not a GGUF
  writeFileSync(join(root, 'manifests', 'registry.ollama.ai', 'library', 'qwen2.5-coder', 'broken'), '{not json');
  return { root, coder, hf };
}

test('Ollama models are listed by name:tag with their GGUF blob; other layers, broken manifests and missing blobs are skipped', () => {
  const { root, coder, hf } = fakeOllama();
  const found = findOllamaModels(root);
  const blobPath = (digest: string) => join(root, 'blobs', digest.replace(':', '-'));
  assert.deepEqual(found.map((m) => [m.label, m.path, m.bytes, m.source]), [
    ['hf.co/ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF:Q8_0', blobPath(hf), 2008, 'Ollama'],
    ['qwen2.5-coder:1.5b', blobPath(coder), 1008, 'Ollama'],
    ['qwen2.5-coder:latest', blobPath(coder), 1008, 'Ollama'],
  ]);
  assert.deepEqual(findOllamaModels(join(root, 'nowhere')), []);
});

test('OLLAMA_MODELS moves the store, and "Select Model" lists its models with the .gguf files of the other folders', () => {
  const { root } = fakeOllama();
  const ggufs = tempDir('gguf-folder');
  writeFileSync(join(ggufs, 'a.gguf'), gguf(10));
  const saved = process.env.OLLAMA_MODELS;
  process.env.OLLAMA_MODELS = root;
  try {
    assert.equal(ollamaModelsDir(), root);
    const found = findModels(ggufs);
    assert.deepEqual(found.filter((m) => m.source === 'tandem.modelsFolder').map((m) => m.path), [join(ggufs, 'a.gguf')]);
    // Two tags of one blob are one file: listed once.
    assert.deepEqual(found.filter((m) => m.source === 'Ollama').map((m) => m.label).sort(),
      ['hf.co/ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF:Q8_0', 'qwen2.5-coder:1.5b']);
  } finally {
    if (saved === undefined) delete process.env.OLLAMA_MODELS;
    else process.env.OLLAMA_MODELS = saved;
  }
  assert.equal(ollamaModelsDir({}).endsWith(join('.ollama', 'models')), true);
});

test('Ollama labels: library models by name:tag, other namespaces and hosts in full', () => {
  assert.equal(ollamaLabel('registry.ollama.ai', 'library', 'llama3.2', '1b'), 'llama3.2:1b');
  assert.equal(ollamaLabel('registry.ollama.ai', 'someone', 'coder', 'q8'), 'someone/coder:q8');
  assert.equal(ollamaLabel('hf.co', 'bartowski', 'X-GGUF', 'Q4_K_M'), 'hf.co/bartowski/X-GGUF:Q4_K_M');
});
