// Y[m][colOffset + n] (+)= X[m] · W[n]ᵀ (+ bias[n]) for a FEW rows m of X (a verify pass of k+1 draft
// positions, a short prefill batch): the split-K matrix-vector kernel (matvec_split_k.wgsl) with TT tokens
// per workgroup. The LPR lanes of a row stride over its chunks (coalesced weight reads, as in decode), and
// each lane keeps TT partial sums, one per token: a chunk of W is fetched from memory once per workgroup
// and reused from the cache for every token, so a pass over TT tokens reads the weights once, as one
// decode step does. (matmul.wgsl gives a lane whole rows: right for lavapipe and long prefill batches,
// uncoalesced on a real GPU.) Workgroup z takes tokens [z·TT, z·TT + TT).
// x is read through the cache (TT rows of x do not fit in workgroup memory). The LPR lane sums of a row
// are added for all TT tokens at once, in one tree of log2(LPR) barriers over workgroup memory.
// Prepended: the weight's dtype snippets (<dtype>.wgsl, <dtype>.dot.wgsl).

override K: u32;
override N_CHUNK: u32;
override N_OFFSET: u32 = 0u;
override Y_STRIDE: u32;
// 1: the batch's rows are the logit rows (after the final norm picked them), not every token.
override ROWS_FROM_LOGITS: u32 = 0u;
override ACCUMULATE: u32 = 0u;
override HAS_BIAS: u32 = 0u;
// What (x · W + bias) is multiplied by before it is stored or accumulated (granite's residual and logit
// scales; 1 elsewhere, and v · 1 is v bit for bit).
override OUT_SCALE: f32 = 1.0;

const LPR: u32 = {{LPR}}u;
const WG: u32 = {{WG}}u;
const RPW: u32 = WG / LPR;
const TT: u32 = {{TT}}u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [m][K/4]
@group(0) @binding(4) var<storage, read> bias: array<f32>;     // [N], or a dummy
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // [m][Y_STRIDE]

// [TT][WG]: token t's lane sums.
var<workgroup> partial: array<f32, TT * WG>;
// vec4 offset of the token row that x4() reads (dot_chunk_x reads x through x4).
var<private> x_row: u32;

fn x4(i: u32) -> vec4<f32> {
  return x[x_row + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  touch_scales();
  let m_rows = select(step.n_tokens, step.n_logit_rows, ROWS_FROM_LOGITS == 1u);
  let n0 = (wid.x + wid.y * nwg.x) * RPW;
  let t0 = wid.z * TT;
  // Whole workgroups leave together (the reductions below have barriers).
  if (n0 >= N_CHUNK || t0 >= m_rows) { return; }
  let group = lane / LPR;
  let sub = lane % LPR;
  let n = min(n0 + group, N_CHUNK - 1u);
  let n_t = min(TT, m_rows - t0);

  var acc: array<f32, TT>;
  let n_chunks = K / CH;
  for (var c = sub; c < n_chunks; c += LPR) {
    for (var t = 0u; t < TT; t++) {
      if (t < n_t) {
        x_row = (t0 + t) * (K / 4u);
        acc[t] += dot_chunk_x(n, c);
      }
    }
  }
  for (var t = 0u; t < TT; t++) { partial[t * WG + lane] = acc[t]; }
  workgroupBarrier();
  for (var s = LPR / 2u; s > 0u; s >>= 1u) {
    if (sub < s) {
      for (var t = 0u; t < TT; t++) { partial[t * WG + lane] += partial[t * WG + lane + s]; }
    }
    workgroupBarrier();
  }
  if (sub == 0u && n0 + group < N_CHUNK) {
    for (var t = 0u; t < n_t; t++) {
      var v = partial[t * WG + lane];
      if (HAS_BIAS == 1u) { v += bias[N_OFFSET + n]; }
      let yi = (t0 + t) * Y_STRIDE + N_OFFSET + n;
      v *= OUT_SCALE;
      if (ACCUMULATE == 1u) { v += y[yi]; }
      y[yi] = v;
    }
  }
}
