// y[r][i] = x[r][i] / sqrt(mean(x[r]²) + EPS) * weight[i]. One workgroup per row.
// SELECT_LAST = 1 normalises only the last step.n_logit_rows rows of the batch (before the output head),
// writing them compactly to y[0..n_logit_rows).

override K: u32;
override EPS: f32;
override SELECT_LAST: u32 = 0u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T][K]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [K]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows][K]

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let rows = select(step.n_tokens, step.n_logit_rows, SELECT_LAST == 1u);
  let r = wid.x;
  if (r >= rows) { return; }
  let src = select(r, step.n_tokens - step.n_logit_rows + r, SELECT_LAST == 1u);
  var ss = 0.0;
  for (var i = lane; i < K; i += WG) {
    let v = x[src * K + i];
    ss += v * v;
  }
  partial[lane] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[lane] += partial[lane + s]; }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(partial[0] / f32(K) + EPS);
  for (var i = lane; i < K; i += WG) {
    y[r * K + i] = x[src * K + i] * scale * weight[i];
  }
}
