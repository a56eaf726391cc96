// PrefixStarts remembers up to 1,024 documents' window starts, meant to be a few numbers and a short head
// each. A head sliced from the request's window text must not keep that text alive (V8 slices are views).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveHeapBytes } from '../../src/bench/gc';
import { PrefixStarts } from '../../src/completion/window';

test('remembering 1,000 documents keeps a few hundred bytes each, not their ~10 KB window texts', () => {
  const starts = new PrefixStarts();
  const documents = 1000;
  // A window's text as a request builds it: a fresh concatenation per document, ~10 KB.
  const windowText = (i: number) => `// file ${i}\n` + `const value${i} = compute(1, 2, 3); // and a comment to make the line longer\n`.repeat(150);
  assert.ok(windowText(0).length > 9000);
  const before = liveHeapBytes();
  for (let i = 0; i < documents; i++) starts.remember(`file:///doc${i}.ts`, 0, windowText(i), 40);
  const perDocument = (liveHeapBytes() - before) / documents;
  assert.ok(perDocument < 1500, `${perDocument.toFixed(0)} bytes kept per document`);
  assert.equal(starts.keepFor('file:///doc7.ts', 100)?.starts.length, 1);
});
