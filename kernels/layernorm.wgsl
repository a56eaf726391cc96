// y[r][i] = (x[r][i] - mean(x[r])) / sqrt(var(x[r]) + EPS) * weight[i] + bias[i], var = mean((x - mean)²):
// LayerNorm with a bias (StarCoder2; llama.cpp's LLM_NORM). One workgroup per row, so a row's bits do not
// depend on the batch it is in. SELECT_LAST = 1 normalises only the last step.n_logit_rows rows of the
// batch (before the output head), writing them compactly to y[0..n_logit_rows), as rmsnorm.wgsl does.
// Lane l adds elements l, l + WG, ... in order; a tree over the WG lanes; the mean first, then the squares
// of the deviations from it (two passes over the row: no cancellation from E[x²] - E[x]²). workgroup_sum.wgsl
// is appended.

override K: u32;
override EPS: f32;
override SELECT_LAST: u32 = 0u;
override WG: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T][K]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [K]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [K]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows][K]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let rows = select(step.n_tokens, step.n_logit_rows, SELECT_LAST == 1u);
  let r = wid.x;
  if (r >= rows) { return; }
  let src = select(r, step.n_tokens - step.n_logit_rows + r, SELECT_LAST == 1u);
  let base = src * K;
  var s = 0.0;
  for (var i = lane; i < K; i += WG) { s += x[base + i]; }
  let mean = workgroup_sum(lane, s) / f32(K);
  var ss = 0.0;
  for (var i = lane; i < K; i += WG) {
    let d = x[base + i] - mean;
    ss += d * d;
  }
  let scale = 1.0 / sqrt(workgroup_sum(lane, ss) / f32(K) + EPS);
  for (var i = lane; i < K; i += WG) {
    y[r * K + i] = (x[base + i] - mean) * scale * weight[i] + bias[i];
  }
}
