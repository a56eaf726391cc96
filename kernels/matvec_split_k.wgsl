// y[colOffset + n] (+)= x · W[n]ᵀ (+ bias[n]) for ONE row x (decode): the real-GPU matrix-vector
// variant. A workgroup owns R rows of W; its WG lanes stride over the row's chunks so that neighbouring
// lanes read neighbouring bytes (coalesced), each keeps R partial sums, and a tree reduction in workgroup
// memory finishes the dot products. (The software-adapter variant, matmul.wgsl with TT = 1, gives each
// lane whole rows instead: lavapipe runs a workgroup on one CPU thread and barriers cost it dearly.)
// The weight's dtype snippet (kernels/dtype/*.wgsl) is prepended.

override K: u32;
override N_CHUNK: u32;
override N_OFFSET: u32 = 0u;
override ACCUMULATE: u32 = 0u;
override HAS_BIAS: u32 = 0u;

const R: u32 = {{R}}u;
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K/4] (row 0 of the batch)
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // row 0: [N]

var<workgroup> partial: array<f32, R * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  touch_scales();
  _ = step.n_tokens;
  let n0 = (wid.x + wid.y * nwg.x) * R;
  if (n0 >= N_CHUNK) { return; }

  var acc: array<f32, R>;
  let n_chunks = K / CH;
  for (var c = lane; c < n_chunks; c += WG) {
    var xs: array<vec4<f32>, XV>;
    for (var v = 0u; v < XV; v++) { xs[v] = x[c * XV + v]; }
    for (var r = 0u; r < R; r++) {
      let n = min(n0 + r, N_CHUNK - 1u);
      let wc = load_chunk(n, c);
      var s = 0.0;
      for (var v = 0u; v < XV; v++) { s += dot(wc[v], xs[v]); }
      acc[r] += s * chunk_scale(n, c);
    }
  }
  for (var r = 0u; r < R; r++) { partial[r * WG + lane] = acc[r]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var r = 0u; r < R; r++) { partial[r * WG + lane] += partial[r * WG + lane + s]; }
    }
    workgroupBarrier();
  }
  if (lane < R && n0 + lane < N_CHUNK) {
    let n = n0 + lane;
    var v = partial[lane * WG];
    if (HAS_BIAS == 1u) { v += bias[N_OFFSET + n]; }
    let yi = N_OFFSET + n;
    if (ACCUMULATE == 1u) { v += y[yi]; }
    y[yi] = v;
  }
}
