// y[r][i] = x[r][i] / sqrt(mean(x[r]²) + EPS) * weight[i]. One workgroup per row.
// SELECT_LAST = 1 normalises only the last step.n_logit_rows rows of the batch (before the output head),
// writing them compactly to y[0..n_logit_rows).
// The sum of squares has one order, shared with the matvec that normalises its own input in decode
// (matvec_split_k.wgsl MODE 1): lane l < WG (64) adds dot(v, v) over vec4s v = 4i..4i+3 of the row,
// i = l, l + WG, ... (zeros past K), then a tree over the WG lanes (workgroup_sum.wgsl, appended). So a
// row normalised here, in a batch, has the bits it has in a decode step, and a verify pass's rows are a
// decode step's, bit for bit.

override K: u32;
override EPS: f32;
override SELECT_LAST: u32 = 0u;
// RMSNORM_LANES (ops/rmsnorm.ts), which the fused matvec uses too.
override WG: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T][K]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [K]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows][K]

/** Element j of the row starting at `base`, 0 past K. */
fn at(base: u32, j: u32) -> f32 {
  if (j < K) { return x[base + j]; }
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let rows = select(step.n_tokens, step.n_logit_rows, SELECT_LAST == 1u);
  let r = wid.x;
  if (r >= rows) { return; }
  let src = select(r, step.n_tokens - step.n_logit_rows + r, SELECT_LAST == 1u);
  let base = src * K;
  var ss = 0.0;
  for (var i = lane; i < (K + 3u) / 4u; i += WG) {
    let v = vec4<f32>(at(base, 4u * i), at(base, 4u * i + 1u), at(base, 4u * i + 2u), at(base, 4u * i + 3u));
    ss += dot(v, v);
  }
  let scale = 1.0 / sqrt(workgroup_sum(lane, ss) / f32(K) + EPS);
  for (var i = lane; i < K; i += WG) {
    y[r * K + i] = x[base + i] * scale * weight[i];
  }
}
