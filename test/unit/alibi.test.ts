// ALiBi's slopes (src/model/alibi.ts) against the paper's closed form 2^(-maxBias (h + 1) / n) for n heads
// a power of two, and for other head counts the first n of the largest power of two below, then every
// other slope of twice that many (the heads past n interleave between the first ones).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alibiSlopes } from '../../src/model/alibi';

const slopesOf = (nHeads: number, maxBias: number) => Array.from({ length: nHeads }, (_, h) => alibiSlopes(nHeads, maxBias)[2 * h]);

test('ALiBi slopes: 8 heads are 2^-1 .. 2^-8 exactly; 12 heads add 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5; 32 heads 2^-0.25 (h + 1), each to the f32 rounding of ggml', () => {
  assert.deepEqual(slopesOf(8, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i));
  // As ggml, m0 (or m1) is rounded to f32 and then raised to the power e: its rounding error (half an f32
  // step) grows e times, plus the final rounding.
  const exponent = (nHeads: number, h: number) => { const n = 2 ** Math.floor(Math.log2(nHeads)); return h < n ? h + 1 : 2 * (h - n) + 1; };
  const within = (got: number[], want: number[]) => got.forEach((g, h) => {
    const bound = want[h] * (exponent(got.length, h) + 1) * 2 ** -24;
    assert.ok(Math.abs(g - want[h]) <= bound, `head ${h}: ${g}, want ${want[h]}`);
  });
  within(slopesOf(12, 8), [...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i), 2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]);
  within(slopesOf(32, 8), Array.from({ length: 32 }, (_, h) => 2 ** (-0.25 * (h + 1))));
  // The second of each pair is 0: the table is read as (slope, 0) per head, the rope table's layout.
  assert.ok(alibiSlopes(12, 8).every((v, i) => (i % 2 === 1 ? v === 0 : v > 0)));
  assert.throws(() => alibiSlopes(0, 8), RangeError);
});
