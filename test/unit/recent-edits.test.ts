// Text the user deleted, found by comparing successive requests' windows (src/completion/recentEdits.ts):
// a deleted line, a line backspaced or deleted a few characters per request, a selection replaced; never
// a window edge that moved, typing, or a cursor move.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DELETIONS_KEPT, RecentDeletions, removedText } from '../../src/completion/recentEdits';
import { lookup } from '../../src/engine/draftNgram';

const FILE = ['function add(a, b) {', '  const sum = a + b;', '  return sum;', '}', '', 'function sub(a, b) {', '  return a - b;', '}', ''].join('\n');

/** A request's windows for the cursor at `cursor` in `text`: whole lines from `firstLine`, the rest of the text as suffix. */
function windows(text: string, cursor: number, firstLine = 0): [string, string, number] {
  let start = 0;
  for (let i = 0; i < firstLine; i++) start = text.indexOf('\n', start) + 1;
  return [text.slice(start, cursor), text.slice(cursor), firstLine];
}

test('a deleted line is found; typing, moving the cursor and re-anchored windows are not deletions', () => {
  const r = new RecentDeletions();
  const line = '  const sum = a + b;\n';
  const at = FILE.indexOf(line);
  assert.deepEqual(r.observe('d', ...windows(FILE, at + line.length)), []);
  const without = FILE.replace(line, '');
  assert.deepEqual(r.observe('d', ...windows(without, at)), [line]);
  // The cursor moves, then typing: nothing new.
  assert.deepEqual(r.observe('d', ...windows(without, at + 5)), [line]);
  const typed = without.slice(0, at) + '  const s' + without.slice(at);
  assert.deepEqual(r.observe('d', ...windows(typed, at + 9)), [line]);
  // The prefix window re-anchored 4 lines later (the text before it left the window): not a deletion.
  assert.deepEqual(r.observe('d', ...windows(typed, at + 9, 1)), [line]);
  // The suffix cut elsewhere (the editor sends fewer lines after the cursor): not a deletion.
  const [p, s, l] = windows(typed, at + 9, 1);
  assert.deepEqual(r.observe('d', p, s.slice(0, s.length - 12), l), [line]);
  // The last line of the document deleted with the cursor at the end (no suffix): found; the document's
  // last newline stays in common, so the line comes with the newline before it.
  const r3 = new RecentDeletions();
  r3.observe('end', 'a = 1;\nb = 2;\nreturn a + b;\n', '');
  assert.deepEqual(r3.observe('end', 'a = 1;\nb = 2;\n', ''), ['\nreturn a + b;']);
  // No document: no history.
  assert.deepEqual(r.observe(undefined, ...windows(FILE, 3)), []);
});

test('a line removed a few characters per request is one snippet: backspace joins before, delete after', () => {
  const r = new RecentDeletions();
  const line = '  return a - b;';
  const end = FILE.indexOf(line) + line.length;
  let text = FILE;
  r.observe('bs', ...windows(text, end));
  // Backspace held down: 4 characters per request, from the end of the line back.
  for (let cut = end; cut > end - line.length; cut -= 4) {
    const from = Math.max(end - line.length, cut - 4);
    text = text.slice(0, from) + text.slice(cut);
    r.observe('bs', ...windows(text, from));
  }
  assert.deepEqual(r.observe('bs', ...windows(text, end - line.length)), [line]);
  // The delete key: pieces after the cursor, the cursor staying put.
  const r2 = new RecentDeletions();
  const start = FILE.indexOf(line);
  text = FILE;
  r2.observe('del', ...windows(text, start));
  for (let i = 0; i < line.length; i += 5) {
    text = text.slice(0, start) + text.slice(start + Math.min(5, line.length - i));
    r2.observe('del', ...windows(text, start));
  }
  assert.deepEqual(r2.observe('del', ...windows(text, start)), [line]);
});

test('snippets: most recent first, at most DELETIONS_KEPT, short or blank ones left out, a replaced selection counts', () => {
  const r = new RecentDeletions();
  let text = FILE;
  r.observe('d', ...windows(text, 0));
  const removed: string[] = [];
  for (const word of ['function ', 'const sum = ', 'return sum', 'return a - b', 'sub(a, b)']) {
    const at = text.indexOf(word);
    text = text.slice(0, at) + 'X' + text.slice(at + word.length); // the selection replaced by typing
    r.observe('d', ...windows(text, at + 1));
    removed.unshift(word);
  }
  assert.deepEqual(r.observe('d', ...windows(text, 0)), removed.slice(0, DELETIONS_KEPT));
  // Two characters, and blank text: not kept.
  const r2 = new RecentDeletions();
  r2.observe('d', ...windows(FILE, 0));
  r2.observe('d', ...windows(FILE.replace('a + b', 'a b'), 0));
  assert.deepEqual(r2.observe('d', ...windows(FILE.replace('a + b', 'a b').replace('\n\n', '\n'), 0)), []);
  assert.equal(removedText('abc', 0, 'abc', 0), undefined);
  // Typos fixed by backspace (short pieces, elsewhere) never push a deleted line out.
  const r3 = new RecentDeletions();
  const line = '  const sum = a + b;\n';
  r3.observe('t', ...windows(FILE, 0));
  const edited = FILE.replace(line, '');
  r3.observe('t', ...windows(edited, 0));
  for (let i = 0; i < 6; i++) {
    const at = edited.indexOf('sub') + i;
    const typo = edited.slice(0, at) + 'qwerty'[i] + edited.slice(at);
    r3.observe('t', ...windows(typo, at + 1));
    r3.observe('t', ...windows(edited, at));
  }
  assert.deepEqual(r3.observe('t', ...windows(edited, 0)), [line]);
});

test('the deleted line drafts its own rest when the user types its start again', () => {
  const encode = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const r = new RecentDeletions();
  const line = '  const sum = a + b;\n';
  const at = FILE.indexOf(line);
  r.observe('d', ...windows(FILE, at + line.length));
  const without = FILE.replace(line, '');
  const corpus = r.observe('d', ...windows(without, at)).map(encode);
  const retyping = encode(without.slice(0, at) + '  const s');
  // Without the deleted text the prompt has no "const s" to copy from; with it, the rest of the line.
  assert.notDeepEqual(lookup(retyping, 8, 2, 4).tokens, encode('um = a +'));
  assert.deepEqual(lookup(retyping, 8, 2, 4, corpus).tokens, encode('um = a +'));
});
