// Post-processing and stop rules on handmade model outputs shaped like what coder models produce:
// the failure each case guards against is in its name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balanceBrackets, cutRepeatedLines, cutSuffixLines, postprocess, trimTrailingWhitespace } from '../../src/completion/postprocess';
import { createStopRule, wantsMultiline } from '../../src/completion/stopRules';

/** Streams `out` through the rule a character at a time, as tokens would, and returns what is kept. */
function stream(prefix: string, out: string, multiline: boolean): string {
  const rule = createStopRule(prefix, { multiline });
  for (let i = 1; i <= out.length; i++) {
    const cut = rule(out.slice(0, i), false);
    if (cut >= 0) return out.slice(0, cut);
  }
  const cut = rule(out, true);
  return cut >= 0 ? out.slice(0, cut) : out;
}

test('single line vs multi-line from the context', () => {
  assert.equal(wantsMultiline('def f(x):\n    ', '\n'), true, 'blank line in a body');
  assert.equal(wantsMultiline('function f() {', '\n}'), true, 'after an opening brace');
  assert.equal(wantsMultiline('const x = ', ';\n'), false, 'half-written line');
  assert.equal(wantsMultiline('foo(', 'bar)\n'), false, 'text after the cursor');
  assert.equal(wantsMultiline('if (a) {', ')}\n'), true, 'only closers after the cursor');
  assert.equal(wantsMultiline('const x = ', '', 'always'), true);
  assert.equal(wantsMultiline('\n', '', 'never'), false);
});

test('single line: stops at the first newline after some text', () => {
  assert.equal(stream('const total = ', 'items.reduce((a, b) => a + b, 0);\nconsole.log(total);\n', false), 'items.reduce((a, b) => a + b, 0);');
  assert.equal(stream('  ', '\n  return x;\n}\n', false), '\n  return x;');
});

test('multi-line: ends where the block ends by indentation', () => {
  const py = 'def area(r):\n    ';
  assert.equal(stream(py, 'return 3.14159 * r * r\n\n\ndef perimeter(r):\n    return 2 * 3.14159 * r\n', true), 'return 3.14159 * r * r\n\n');
  const js = 'function sum(xs) {\n  ';
  assert.equal(stream(js, 'let s = 0;\n  for (const x of xs) s += x;\n  return s;\n}\n\nfunction mean(xs) {\n', true),
    'let s = 0;\n  for (const x of xs) s += x;\n  return s;');
});

test('multi-line after a block opener: the body, then the closer at the opener\'s indentation ends it', () => {
  assert.equal(stream('function f() {', '\n  return 1;\n}\nfunction g() {\n', true), '\n  return 1;\n}');
  assert.equal(stream('def f():', '\n    return 1\ndef g():\n', true), '\n    return 1');
});

test('multi-line: at most 32 lines when nothing else stops it', () => {
  const out = Array.from({ length: 100 }, (_, i) => `x${i} = ${i}`).join('\n');
  assert.equal(stream('', out, true).split('\n').length, 32);
});

test('duplicated closing bracket: the completion closes what the rest of the line already closes', () => {
  assert.equal(balanceBrackets('a, b)', 'foo(', ')'), 'a, b');
  assert.equal(balanceBrackets('a, [1, 2])', 'foo(', ');'), 'a, [1, 2]');
  assert.equal(postprocess('x => x * 2)', { prefix: 'xs.map(', suffix: ')\n' }), 'x => x * 2');
  // the completion's own brackets are left alone
  assert.equal(balanceBrackets('bar()', 'foo(', ')'), 'bar()');
  assert.equal(balanceBrackets('a)', 'foo(', ''), 'a)');
});

test('a closer that does not match the open bracket ends the completion', () => {
  assert.equal(balanceBrackets('1, 2]) + 3', 'f([', ''), '1, 2]) + 3', 'closes both: fine');
  assert.equal(balanceBrackets('1, 2}) + 3', 'f([', ''), '1, 2');
});

test('brackets inside strings and comments do not count', () => {
  assert.equal(balanceBrackets('")", 1)', 'f(', ')'), '")", 1');
  assert.equal(balanceBrackets("'(' // )", 'f(', ')'), "'(' // )");
});

test('the model writes the line below again: cut where it starts', () => {
  assert.equal(cutSuffixLines('const a = 1;\nconst b = 2;\nreturn a + b;', '\nconst b = 2;\nreturn a + b;\n'), 'const a = 1;');
  assert.equal(cutSuffixLines('  return x;\n}', '\n}\n'), '  return x;');
  // a single matching line that is not a closer is not enough
  assert.equal(cutSuffixLines('x = 1;\nfoo();\nbar();', '\nfoo();\nbaz();\n'), 'x = 1;\nfoo();\nbar();');
});

test('the rest of the line again: "foo";  before  ";', () => {
  assert.equal(postprocess('hello world";', { prefix: 'const s = "', suffix: '";\n' }), 'hello world');
});

test('repeated lines: a stuck loop, a cycle, the line above', () => {
  assert.equal(cutRepeatedLines('x.push(1);\nx.push(1);\nx.push(1);', ''), 'x.push(1);');
  assert.equal(cutRepeatedLines('a = foo();\nb = bar();\na = foo();\nb = bar();', ''), 'a = foo();\nb = bar();');
  assert.equal(cutRepeatedLines('import os\nimport sys', 'import os\n'), '');
  assert.equal(cutRepeatedLines('}\n}\n}', ''), '}\n}\n}', 'short lines may repeat');
});

test('trailing whitespace and blank lines go; nothing but whitespace is no completion', () => {
  assert.equal(trimTrailingWhitespace('a  \n  b\t\n\n'), 'a\n  b');
  assert.equal(postprocess('   \n\n', { prefix: 'x', suffix: '' }), '');
  assert.equal(postprocess('foo', { prefix: 'x', suffix: 'foo()' }), '', 'already there');
});

test('captured shape: Qwen2.5-Coder in a JS body, already closed below', () => {
  const prefix = 'function fib(n) {\n  ';
  const suffix = '\n}\n\nconsole.log(fib(10));\n';
  const raw = 'if (n < 2) return n;\n  return fib(n - 1) + fib(n - 2);\n}\n\nconsole.log(fib(10));';
  const kept = stream(prefix, raw, wantsMultiline(prefix, suffix));
  assert.equal(postprocess(kept, { prefix, suffix }), 'if (n < 2) return n;\n  return fib(n - 1) + fib(n - 2);');
});
