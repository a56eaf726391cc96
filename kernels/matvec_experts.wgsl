// Y[z][n_offset + n] = x_z · W_e[n]ᵀ for every (token, slot) pair z = t · K_USED + j of a batch, where e is
// the expert the router chose for that pair and W_e its N_EXPERT rows of the expert matrix (all experts
// back to back; this chunk's buffer holds e_count of them from expert e_first). The router grouped the
// pairs by expert (moe_route.wgsl): workgroup z takes tile z, up to TT pairs of one expert, so an expert's
// weights are fetched once per tile rather than once per pair (llama.cpp's mul_mat_id); a workgroup past
// the tile count, or whose expert another chunk holds, leaves at once.
// The work split of the split-K batch matvec (matvec_split_k_batch.wgsl): a workgroup owns RPW = WG / LPR
// rows, the LPR lanes of a row stride over its chunks (coalesced weight reads), each lane keeps TT sums,
// and one tree in workgroup memory adds them. A pair's sum has the same order whatever its tile, so a
// verify row is a decode step bit for bit.
// x row of pair z: z / ROW_DIV (K_USED: the token's normalised residual row, for gate and up; 1: the pair's
// own row, for down), read through the cache.
// Prepended: the weight's dtype snippets (<dtype>.wgsl, <dtype>.dot.wgsl).

override K: u32;
override N_EXPERT: u32;
override Y_STRIDE: u32;
override ROW_DIV: u32;

// Per dispatch, a uniform rather than overrides, so that the chunks of a matrix and the gate and up
// matrices share one pipeline (a software adapter compiles each pipeline for seconds).
struct ExpertChunk {
  e_first: u32,
  e_count: u32,
  n_offset: u32,
}

const LPR: u32 = {{LPR}}u;
const WG: u32 = {{WG}}u;
const RPW: u32 = WG / LPR;
const TT: u32 = {{TT}}u;

@group(0) @binding(0) var<uniform> chunk: ExpertChunk;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;   // [rows][K/4]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;   // [pairs][Y_STRIDE]
@group(0) @binding(6) var<storage, read> order: array<u32>;     // [pairs], expert by expert
@group(0) @binding(7) var<storage, read> tiles: array<u32>;     // [count, (expert, first, n)...]

// [TT][WG]: pair t's lane sums.
var<workgroup> partial: array<f32, TT * WG>;
// vec4 offset of the row that x4() reads (dot_chunk_x reads x through x4).
var<private> x_row: u32;

fn x4(i: u32) -> vec4<f32> {
  return x[x_row + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  touch_scales();
  let tile = wid.z;
  let n0 = wid.x * RPW;
  // Whole workgroups leave together (the reduction below has barriers).
  if (tile >= tiles[0] || n0 >= N_EXPERT) { return; }
  let e = tiles[1u + 3u * tile];
  if (e < chunk.e_first || e >= chunk.e_first + chunk.e_count) { return; }
  let first = tiles[2u + 3u * tile];
  let n_t = tiles[3u + 3u * tile];
  let group = lane / LPR;
  let sub = lane % LPR;
  let n = min(n0 + group, N_EXPERT - 1u);
  let row = (e - chunk.e_first) * N_EXPERT + n;
  var rows: array<u32, TT>;
  for (var t = 0u; t < TT; t++) { rows[t] = order[first + min(t, n_t - 1u)] / ROW_DIV * (K / 4u); }

  var acc: array<f32, TT>;
  let n_chunks = K / CH;
  for (var c = sub; c < n_chunks; c += LPR) {
    for (var t = 0u; t < TT; t++) {
      if (t < n_t) {
        x_row = rows[t];
        acc[t] += dot_chunk_x(row, c);
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
  if (sub == 0u && n0 + group < N_EXPERT) {
    for (var t = 0u; t < n_t; t++) {
      y[order[first + t] * Y_STRIDE + chunk.n_offset + n0 + group] = partial[t * WG + lane];
    }
  }
}
