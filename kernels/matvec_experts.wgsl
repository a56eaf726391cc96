// Y[z][N_OFFSET + n] = x_z · W_e[n]ᵀ for every (token, slot) pair z = t · K_USED + j of a batch, where e is
// the expert the router chose for that pair (routes[z], moe_route.wgsl) and W_e its N_EXPERT rows of the
// expert matrix (all experts back to back, E_COUNT of them from expert E_FIRST in this chunk's buffer).
// The split-K matvec's work split (matvec_split_k.wgsl): a workgroup owns RPW = WG / LPR rows of one
// expert, the LPR lanes of a row stride over its chunks (coalesced weight reads) and a tree in workgroup
// memory adds them. Every pair is a one-token matvec with the same arithmetic whatever the batch, so a
// verify row is a decode step bit for bit. Workgroup z takes pair z, or with ORDERED the z-th pair of
// `order` (moe_sort.wgsl: the pairs expert by expert, so one expert's workgroups run together; the sums are
// the same either way); one whose expert lives in another chunk leaves at once.
// The input row (staged in workgroup memory when it fits, STAGE_X):
//   MODE 0: x row t = z / K_USED (the normalised residual stream, for gate and up);
//   MODE 2: silu(gate) · up from row z of [gate (K) | up (K)] (the expert's down projection).
// Prepended: the weight's dtype snippets (<dtype>.wgsl, <dtype>.dot.wgsl) and matvec_reduce_shared.wgsl.

override K: u32;
override N_EXPERT: u32;
override E_FIRST: u32;
override E_COUNT: u32;
override N_OFFSET: u32 = 0u;
override Y_STRIDE: u32;
override K_USED: u32;

const LPR: u32 = {{LPR}}u;
const WG: u32 = {{WG}}u;
const RPW: u32 = WG / LPR;
const STAGE_X: bool = {{STAGE_X}};
const XS4: u32 = {{XS4}}u;
// Quantized weights: x block-interleaved in workgroup memory, as matvec_split_k.wgsl keeps it
// (x_interleave.wgsl, appended).
const X_INTERLEAVED: bool = {{X_INTERLEAVED}};
const MODE: u32 = {{MODE}}u;
const ORDERED: bool = {{ORDERED}};

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;   // MODE 0: [T][K/4]; MODE 2: [T·K_USED][2K/4]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;   // [T·K_USED][Y_STRIDE]
@group(0) @binding(6) var<storage, read> routes: array<u32>;    // [T·K_USED][id, bitcast(w)]
@group(0) @binding(7) var<storage, read> order: array<u32>;     // ORDERED: [T·K_USED], expert by expert; else a dummy

var<workgroup> partial: array<f32, WG>;
var<workgroup> xsh: array<vec4<f32>, XS4>;
// vec4 offset of this pair's input row.
var<private> x_row: u32;

fn input4(i: u32) -> vec4<f32> {
  if (MODE == 2u) {
    let g = x[x_row + i];
    return g / (vec4<f32>(1.0) + exp(-g)) * x[x_row + K / 4u + i];
  }
  return x[x_row + i];
}

fn x4(i: u32) -> vec4<f32> {
  if (STAGE_X) { return xsh[xsh_index(i)]; }
  return input4(i);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  touch_scales();
  let n0 = wid.x * RPW;
  if (wid.z >= step.n_tokens * K_USED || n0 >= N_EXPERT) { return; }
  var z = wid.z;
  if (ORDERED) { z = order[wid.z]; }
  let e = routes[2u * z];
  if (e < E_FIRST || e >= E_FIRST + E_COUNT) { return; }
  x_row = select(z / K_USED * (K / 4u), z * (K / 2u), MODE == 2u);
  if (STAGE_X) {
    for (var i = lane; i < K / 4u; i += WG) { xsh[xsh_index(i)] = input4(i); }
    workgroupBarrier();
  }
  let group = lane / LPR;
  let sub = lane % LPR;
  let n = min(n0 + group, N_EXPERT - 1u);
  let row = (e - E_FIRST) * N_EXPERT + n;
  var acc = 0.0;
  let n_chunks = K / CH;
  for (var c = sub; c < n_chunks; c += LPR) {
    acc += dot_chunk_x(row, c);
  }
  let total = reduce_row(acc, lane);
  if (sub == 0u && n0 + group < N_EXPERT) {
    y[z * Y_STRIDE + N_OFFSET + n0 + group] = total;
  }
}
