// The typed middle of PSM prompts (completion/middle.ts): where it starts, when its anchor is kept and when
// it moves, and what typing costs with it, counted in prompt tokens a longest-common-prefix cache prefills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anchorOf, MAX_MIDDLE_NEWLINES, middleStart } from '../../src/completion/middle';
import { buildPrompt, promptWindows, type PromptWindows } from '../../src/completion/prompt';
import { getTemplate } from '../../src/completion/templates';
import { PrefixStarts } from '../../src/completion/window';
import { fakeTokenizer, QWEN_LIKE } from './completionFakeTokenizer';

const count = (t: string) => t.length;
const budgets = { prefixTokens: 400, suffixTokens: 100 };
const head = Array.from({ length: 20 }, (_, i) => `const v${String(i).padStart(2, '0')} = ${i};\n`).join('');
const tail = '\nexport {};\n';

/** A document's requests through PrefixStarts, as the pipeline makes them (typed middle on). */
function session() {
  const starts = new PrefixStarts();
  return (prefix: string, suffix = tail, prefixLineOffset = 0): PromptWindows => {
    const w = promptWindows({ prefix, suffix, prefixLineOffset }, budgets, count, starts.keepFor('doc', budgets.prefixTokens), { typedMiddle: true });
    starts.remember('doc', w.prefixStartLine, w.prefix, w.middle.length);
    return w;
  };
}
const before = (w: PromptWindows) => w.prefix.slice(0, w.prefix.length - w.middle.length);

test('without a kept anchor the middle is the cursor line up to the cursor; the anchor is a line start', () => {
  assert.equal(middleStart('a\nb\n  ret'), 4);
  assert.equal(middleStart('a\nb\n'), 4, 'at a line start the middle is empty');
  assert.equal(middleStart('one long line'), 0);
  const w = 'a\nb\n  return x';
  assert.equal(middleStart(w, anchorOf('a\nb\n  ret', 7)), 2, 'kept: the text before it is unchanged');
  assert.equal(middleStart(w, { ...anchorOf('a\nb\n  ret', 7), hash: 1 }), 4, 'the text before it changed');
  assert.equal(middleStart('a\nb\n', anchorOf('a\nb\n  ret', 0)), 4, 'the window now ends before the anchor');
  assert.equal(middleStart('a\nbc\n  x', { chars: 3, hash: anchorOf('a\nbc\n  x', 5).hash }), 5, 'an anchor not at a line start is not kept');
});

test('typing on: the prefix before the anchor stays the same for up to MAX_MIDDLE_NEWLINES new lines, then the anchor moves to the cursor line', () => {
  const request = session();
  let doc = head + '  ';
  const first = request(doc);
  assert.equal(first.middle, '  ');
  const anchored = before(first);
  let newlines = 0;
  for (const ch of 'let total = 0;\n'.repeat(MAX_MIDDLE_NEWLINES + 1) + '  ret') {
    doc += ch;
    const w = request(doc);
    assert.equal(w.prefix, doc.slice(doc.length - w.prefix.length), 'the window ends at the cursor');
    if (ch === '\n') newlines++;
    if (newlines <= MAX_MIDDLE_NEWLINES) assert.equal(before(w), anchored, `after ${newlines} new lines`);
    else {
      assert.equal(w.middle, doc.slice(doc.lastIndexOf('\n') + 1), 'moved to the cursor line');
      break;
    }
  }
  assert.equal(newlines, MAX_MIDDLE_NEWLINES + 1);
});

test('the anchor moves when the text before it changes or a backspace reaches past it; it survives lines added above the window', () => {
  const request = session();
  const doc = head + '  let a = 1;\n  ret';
  const base = request(head + '  ');
  assert.equal(request(doc).middle, '  let a = 1;\n  ret', 'typed on');
  // A backspace past the anchor (the line it starts is gone): the middle is the cursor line again.
  assert.equal(request(head.slice(0, -1)).middle, head.slice(head.lastIndexOf('\n', head.length - 2) + 1, -1));
  request(head + '  ');
  // An edit inside the window above the anchor.
  const edited = head.replace('v05 = 5', 'v05 = 50') + '  let';
  assert.equal(request(edited).middle, '  let');
  // Lines added above the window: the kept start is found by its text and the anchor with it.
  const moved = session();
  const w0 = moved(head + '  x', tail, 100);
  const w1 = moved(head + '  x = 1;\n  y', tail, 103);
  assert.equal(before(w1), before(w0));
  assert.equal(w1.middle, '  x = 1;\n  y');
  assert.equal(base.middle, '  ');
});

test('off (typedMiddle false, or SPM): no middle; the layout gets the same text either way', () => {
  const w = promptWindows({ prefix: head + '  ret', suffix: tail }, budgets, count);
  assert.equal(w.middle, '');
  const tok = fakeTokenizer(QWEN_LIKE);
  const on = buildPrompt(tok, getTemplate('qwen2.5-coder'), { prefix: head + '  ret', suffix: tail, path: 'a.ts', languageId: 'typescript' });
  const off = buildPrompt(tok, getTemplate('qwen2.5-coder'), { prefix: head + '  ret', suffix: tail, path: 'a.ts', languageId: 'typescript' }, undefined, undefined, undefined, false);
  assert.equal(on.prefix, off.prefix);
  assert.equal(tok.decode(on.tokens).replace(/<[^>]*>/g, '').length, tok.decode(off.tokens).replace(/<[^>]*>/g, '').length, 'the same text, laid out differently');
  assert.equal(buildPrompt(tok, getTemplate('codestral'), { prefix: head + '  ret', suffix: tail, path: 'a.ts', languageId: 'typescript' }).middle, '');
});

test('typing a function into a Qwen-format PSM prompt: ~1 prefilled token a keystroke with the typed middle, the whole suffix without', () => {
  const tok = fakeTokenizer(QWEN_LIKE);
  const template = getTemplate('qwen2.5-coder');
  const suffix = '\n' + Array.from({ length: 30 }, (_, i) => `use(v${i});\n`).join('');
  const body = '  const sum = v01 + v02;\n  if (sum > 3) {\n    return sum;\n  }\n  return 0;\n';
  const prefilled = (typedMiddle: boolean) => {
    const starts = new PrefixStarts();
    const big = { prefixTokens: 1000, suffixTokens: 200, contextFileTokens: 0 };
    let prev: number[] | undefined;
    let total = 0;
    let typed = head + 'function f() {\n';
    for (const ch of body) {
      typed += ch;
      const p = buildPrompt(tok, template, { documentId: 'd', prefix: typed, suffix, path: 'a.ts', languageId: 'typescript' }, big, undefined, starts.keepFor('d', big.prefixTokens), typedMiddle);
      starts.remember('d', p.prefixStartLine, p.prefix, p.middle.length);
      if (prev) {
        // The first request prefills its whole prompt either way.
        let same = 0;
        while (same < prev.length && same < p.tokens.length && prev[same] === p.tokens[same]) same++;
        total += p.tokens.length - same;
      }
      prev = p.tokens;
    }
    return total / (body.length - 1);
  };
  const on = prefilled(true);
  const off = prefilled(false);
  assert.ok(on <= 2, `typed middle: ${on.toFixed(2)} tokens a keystroke`);
  assert.ok(off >= 150, `without: ${off.toFixed(2)} tokens a keystroke`);
});
