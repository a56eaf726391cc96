// Shared by every kernel: the per-step uniform. One forward pass (a batch of tokens of one sequence at
// consecutive positions) writes it once; every dispatch of that pass reads it.
struct Step {
  // Tokens in this batch (T): 1 for decode, k+1 for verification, up to the workspace size for prefill.
  n_tokens: u32,
  // Position of the batch's first token in its sequence.
  pos0: u32,
  // Rows of logits wanted, taken from the end of the batch (1 = last token only, T = every position).
  n_logit_rows: u32,
  // Attention splits of the key range (flash-decoding; 1 = each workgroup takes all keys of its query).
  n_splits: u32,
}
