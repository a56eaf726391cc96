// A draft whose agreement with the target is set by hand, for tests and benchmarks: it knows the target's
// own continuation (`reference`: prompt and the target-only output) and proposes the reference token with
// probability `agreement`, else a different one. With an inner draft (a real draft model) it also runs
// that model for each drafted token, so the draft's cost is real while its agreement is controlled.

import type { DraftSource, ProposeContext, Proposal } from './draft';
import { Rng } from './sampler';

export class ControlledDraft implements DraftSource {
  readonly kind = 'controlled';
  private readonly rng: Rng;

  constructor(private readonly reference: readonly number[], readonly agreement: number, private readonly o: { vocab: number; seed?: number; inner?: DraftSource }) {
    this.rng = new Rng(o.seed ?? 1);
  }

  async propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    const at = context.length;
    k = Math.min(k, this.reference.length - at);
    if (k <= 0) return { tokens: [], passes: 0 };
    const inner = this.o.inner ? await this.o.inner.propose(context, k, ctx) : { tokens: [], passes: 0 };
    const tokens: number[] = [];
    for (let i = 0; i < k; i++) {
      const right = this.reference[at + i];
      tokens.push(this.rng.next() < this.agreement ? right : (right + 1 + Math.floor(this.rng.next() * (this.o.vocab - 1))) % this.o.vocab);
    }
    return { tokens, passes: inner.passes, prefilled: inner.prefilled };
  }

  reset(): void {
    this.o.inner?.reset();
  }
}
