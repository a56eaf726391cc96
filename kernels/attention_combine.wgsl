// Merges the per-split softmax states of attention.wgsl (decode, or a batch of a few tokens): for each
// token and head, M = max m_s, L = Σ l_s e^(m_s − M), out = Σ acc_s e^(m_s − M) / L. One workgroup per
// (head, token), a lane per output dimension. Splits with no keys (l = 0) contribute nothing.
// matvec_split_k.wgsl MODE 3 merges a decode step's splits with the same arithmetic.

override N_HEADS: u32;
override HD: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> partials: array<f32>;    // [T][N_HEADS][splits][HD + 2]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [T][N_HEADS HD]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wid.x;
  let t = wid.y;
  let S = step.n_splits;
  let th = t * N_HEADS + h;
  var M = -3.0e38;
  for (var s = 0u; s < S; s++) {
    let b = (th * S + s) * (HD + 2u);
    if (partials[b + HD + 1u] > 0.0) { M = max(M, partials[b + HD]); }
  }
  var L = 0.0;
  for (var s = 0u; s < S; s++) {
    let b = (th * S + s) * (HD + 2u);
    let ls = partials[b + HD + 1u];
    if (ls > 0.0) { L += ls * exp(partials[b + HD] - M); }
  }
  for (var d = lane; d < HD; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s < S; s++) {
      let b = (th * S + s) * (HD + 2u);
      if (partials[b + HD + 1u] > 0.0) { acc += partials[b + d] * exp(partials[b + HD] - M); }
    }
    out[th * HD + d] = acc / L;
  }
}
