// How well prompt-lookup (n-gram) drafts predict real code, independently of any model: for each request
// of an editing session, the draft is checked against what the developer really typed next (the trace's
// `next`), as speculative decoding would check it against a target that writes exactly that text. Each
// pass drafts k tokens from the prompt plus the continuation so far, keeps the longest agreeing prefix and
// one more token (the target's own), like a verify pass. The model runs (d) in editReplay.ts measure the
// same drafts against the model's actual output, which for stories260K (prose) or random-weight models
// says nothing about code.

import { lookupBranches, trieSize } from '../engine/draftNgram';
import { RecentDeletions } from '../completion/recentEdits';
import { linesBefore } from '../completion/window';
import type { EditTrace } from './editReplayTrace';

export interface NgramOracleResult {
  requests: number;
  /** Continuation tokens checked (at most `horizon` per request). */
  tokens: number;
  passes: number;
  /** Tokens drafted (with branches: trie nodes, the positions a tree verify pass runs besides its root). */
  draftedTokens: number;
  acceptedTokens: number;
}

/**
 * `prompts[t][i]`: the prompt of request i of trace t. `branches` > 1: a tree of that many distinct
 * continuations per pass (lookupBranches), verified in one pass; the longest agreeing branch is kept.
 * `deletions`: the drafts also search the text deleted in the session so far, as the engine's n-gram
 * drafts do (RecentDeletions over the requests' windows).
 */
export function ngramAgainstTypedText(traces: EditTrace[], prompts: number[][][], encode: (s: string) => number[], k: number, horizon = 32, branches = 1, deletions = false): NgramOracleResult {
  const r: NgramOracleResult = { requests: 0, tokens: 0, passes: 0, draftedTokens: 0, acceptedTokens: 0 };
  traces.forEach((t, ti) => {
    const recent = new RecentDeletions();
    t.requests.forEach((q, i) => {
      let corpus: number[][] = [];
      if (deletions) {
        const w = t.windows[i];
        corpus = recent.observe(t.file, q.text.slice(w.prefixStart, q.cursor), q.text.slice(q.cursor, Math.max(q.cursor, w.suffixEnd)), linesBefore(q.text, w.prefixStart)).map(encode);
      }
      if (!q.next) return;
      const truth = encode(q.next).slice(0, horizon);
      if (!truth.length) return;
      r.requests++;
      r.tokens += truth.length;
      const prompt = prompts[ti][i];
      for (let pos = 0; pos < truth.length;) {
        const context = prompt.concat(truth.slice(0, pos));
        const n = Math.min(k, truth.length - pos);
        const tree = lookupBranches(context, n, 1, 4, branches, corpus);
        let kept = 0;
        for (const draft of tree) {
          let agree = 0;
          while (agree < draft.length && draft[agree] === truth[pos + agree]) agree++;
          kept = Math.max(kept, agree);
        }
        r.draftedTokens += trieSize(tree);
        r.acceptedTokens += kept;
        r.passes++;
        pos += kept + 1;
      }
    });
  });
  return r;
}

