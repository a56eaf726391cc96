// ids[r] = argmax over logits[r][0..V) (first index on ties, as numpy and llama.cpp's greedy sampler).
// One workgroup per logit row; NaN never wins (a row of NaN gives 0). The engine reads back 4 bytes per row instead of a row
// of V logits.

override V: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;      // [rows][V]
@group(0) @binding(5) var<storage, read_write> ids: array<u32>;   // [rows]

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = wid.x;
  if (r >= step.n_logit_rows) { return; }
  // The first finite-or-infinite value a lane sees is its first candidate (no sentinel value: a row
  // of -inf or -FLT_MAX must still give its first index). NaN is skipped.
  var bv = 0.0;
  var bi = NONE;
  for (var i = lane; i < V; i += WG) {
    let v = logits[r * V + i];
    // NaN test on the bits: compilers may fold `v != v` to false.
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { continue; }
    if (bi == NONE || v > bv) { bv = v; bi = i; }
  }
  best_v[lane] = bv;
  best_i[lane] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      let ov = best_v[lane + s];
      let oi = best_i[lane + s];
      let mine = best_i[lane];
      if (oi != NONE && (mine == NONE || ov > best_v[lane] || (ov == best_v[lane] && oi < mine))) {
        best_v[lane] = ov;
        best_i[lane] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u) { ids[r] = select(best_i[0], 0u, best_i[0] == NONE); }
}
