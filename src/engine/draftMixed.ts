// Both draft sources at once: per step, n-grams when the document offers a match and they have been
// accepted at least as well as the model recently, else the draft model. Acceptance is tracked per source
// as a decayed rate of accepted / proposed tokens.

import type { DraftSource, ProposeContext, Proposal } from './draft';
import { lookup } from './draftNgram';

export class MixedDraft implements DraftSource {
  readonly kind = 'mixed';
  /** Decayed accepted and proposed token counts per source (a prior of 1 of 2). */
  private readonly rate = { ngram: { accepted: 1, proposed: 2 }, model: { accepted: 1, proposed: 2 } };
  private last: 'ngram' | 'model' = 'model';
  /** Proposals by source in this request. */
  readonly picks = { ngram: 0, model: 0 };

  /** `corpus`: token runs searched after the context (text the user deleted; see NgramDraftOptions). */
  constructor(private readonly model: DraftSource, private readonly o: { minNgram?: number; maxNgram?: number; decay?: number; corpus?: readonly (readonly number[])[] } = {}) {}

  async propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    const match = lookup(context, k, this.o.minNgram ?? 2, this.o.maxNgram ?? 4, this.o.corpus);
    const r = (s: 'ngram' | 'model') => this.rate[s].accepted / this.rate[s].proposed;
    if (match.tokens.length > 0 && r('ngram') >= r('model')) {
      this.last = 'ngram';
      this.picks.ngram++;
      return { tokens: match.tokens, passes: 0 };
    }
    this.last = 'model';
    this.picks.model++;
    return this.model.propose(context, k, ctx);
  }

  observe(p: Proposal, accepted: number): void {
    const d = this.o.decay ?? 0.8;
    const s = this.rate[this.last];
    s.accepted = d * s.accepted + accepted;
    s.proposed = d * s.proposed + p.tokens.length;
  }

  reset(): void {
    this.model.reset();
    this.picks.ngram = this.picks.model = 0;
  }
}
