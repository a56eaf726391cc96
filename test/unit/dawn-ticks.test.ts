// The GPU-wait policy (src/gpu/dawnTicks.ts) against a stand-in for dawn.node's AsyncRunner: while a
// "GPU" promise is pending it queues a native function (a bound one, renamed '': it prints as
// `[native code]` and is nameless, as an N-API function is) through the global setImmediate, which ticks
// the "device" and queues itself again.
// Checked: dawn's busy loop is kept with spinMs = Infinity; with a finite spinMs a long wait turns to
// 1 ms timers after spinMs and still ends within a few ms of the work; progress (the promise settling)
// starts the busy part again; JavaScript callbacks of setImmediate are untouched (a real immediate),
// arguments and util.promisify included. The real adapter's waits: test/kernels/gpu-wait.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { installTickPolicy, setSpinMs, tickCounts } from '../../src/gpu/dawnTicks';

/** A device whose work finishes `ms` after it is submitted; `done()` is its onSubmittedWorkDone. */
class FakeQueue {
  private pending: { at: number; resolve: () => void }[] = [];
  private ticking = false;
  polls = 0;

  done(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.pending.push({ at: performance.now() + ms, resolve });
      if (!this.ticking) this.queueTick();
    });
  }

  /** AsyncRunner::QueueTick: a fresh native function per tick, through the global setImmediate. */
  private queueTick(): void {
    this.ticking = true;
    const tick = function (this: FakeQueue): void {
      this.polls++;
      const now = performance.now();
      const finished = this.pending.filter((p) => p.at <= now);
      this.pending = this.pending.filter((p) => p.at > now);
      for (const p of finished) p.resolve();
      if (this.pending.length > 0) this.queueTick();
      else this.ticking = false;
    }.bind(this);
    // N-API functions made without a name have name '' (a bound one's is 'bound ').
    Object.defineProperty(tick, 'name', { value: '' });
    globalThis.setImmediate(tick);
  }
}

installTickPolicy([[FakeQueue.prototype, 'done']]);

async function timedWait(q: FakeQueue, ms: number): Promise<{ elapsed: number; immediate: number; timed: number; polls: number }> {
  const before = tickCounts();
  const polls = q.polls;
  const t0 = performance.now();
  await q.done(ms);
  const after = tickCounts();
  return { elapsed: performance.now() - t0, immediate: after.immediate - before.immediate, timed: after.timed - before.timed, polls: q.polls - polls };
}

test("spinMs = Infinity keeps dawn's busy loop: every turn ticks", async () => {
  setSpinMs(Infinity);
  const r = await timedWait(new FakeQueue(), 30);
  assert.equal(r.timed, 0);
  assert.ok(r.immediate > 100, `${r.immediate} ticks in ${r.elapsed.toFixed(1)} ms`);
});

test('spinMs = 2: a 60 ms wait polls for ~2 ms, then once a millisecond, and ends soon after the work (not a long timer)', async () => {
  setSpinMs(2);
  const r = await timedWait(new FakeQueue(), 60);
  assert.ok(r.timed >= 10 && r.timed <= 62, `${r.timed} timed ticks`);
  assert.ok(r.elapsed >= 60 && r.elapsed < 60 + 30, `ended after ${r.elapsed.toFixed(1)} ms`);
  // Far fewer polls than the busy loop's hundreds a millisecond.
  assert.ok(r.polls < r.timed + r.immediate + 1 && r.polls < 60 * 30, `${r.polls} polls`);
});

test('progress starts the busy part again: a short wait right after a long one is not put on timers', async () => {
  setSpinMs(5);
  const q = new FakeQueue();
  await timedWait(q, 30);
  const short = await timedWait(q, 1);
  assert.equal(short.timed, 0, 'a 1 ms wait right after progress ticks every turn');
  assert.ok(short.elapsed < 25, `${short.elapsed.toFixed(2)} ms`);
});

test('JavaScript callbacks of setImmediate are untouched: a real immediate, with its arguments, not counted as ticks', async () => {
  setSpinMs(0);
  const q = new FakeQueue();
  const wait = q.done(20);
  const before = tickCounts();
  let handle: unknown;
  const got = await new Promise<unknown[]>((resolve) => { handle = setImmediate((a: string, b: number) => resolve([a, b]), 'x', 2); });
  assert.deepEqual(got, ['x', 2]);
  assert.equal((handle as object).constructor.name, 'Immediate');
  assert.equal(await promisify(setImmediate)('value'), 'value');
  await wait;
  const after = tickCounts();
  // Only the stand-in's own ticks were counted (all on timers: spinMs = 0).
  assert.equal(after.immediate, before.immediate);
  setSpinMs(2);
});
