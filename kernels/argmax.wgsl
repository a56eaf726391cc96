// out[r] = (argmax over logits[r][0..V), bitcast(p)) where p = softmax(logits[r])[argmax] = 1 / Σ_i exp(l_i - max):
// the target's probability of its greedy token, for confidence trimming, at no extra pass over the row.
// First index on ties (numpy's and llama.cpp's greedy rule); NaN is skipped and never wins (a row of NaN
// gives id 0 and p 0). One workgroup per logit row; the engine reads back 8 bytes per row instead of a row
// of V logits.
//
// Each lane keeps an online softmax denominator (flash-attention's running max and rescaled sum): on a new
// maximum m' the sum so far is scaled by exp(m - m'); lanes merge their (max, sum) pairs the same way. A
// term whose value equals the running maximum counts 1 (exp(-inf - -inf) would be NaN for a row of -inf).

override V: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;      // [rows][V]
@group(0) @binding(5) var<storage, read_write> out: array<u32>;   // [rows][2]: id, bitcast<u32>(p: f32)

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;
var<workgroup> sum_e: array<f32, WG>;   // Σ exp(l - best_v) over the values the lane has merged

const NONE: u32 = 0xffffffffu;

/** exp(v - m) for v <= m, exactly 1 when v == m (infinite maxima included). */
fn scaled(v: f32, m: f32) -> f32 {
  return select(exp(v - m), 1.0, v == m);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = wid.x;
  if (r >= step.n_logit_rows) { return; }
  // The first finite-or-infinite value a lane sees is its first candidate (no sentinel value: a row
  // of -inf or -FLT_MAX must still give its first index). NaN is skipped.
  var bv = 0.0;
  var bi = NONE;
  var se = 0.0;
  for (var i = lane; i < V; i += WG) {
    let v = logits[r * V + i];
    // NaN test on the bits: compilers may fold `v != v` to false.
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { continue; }
    if (bi == NONE) {
      bv = v; bi = i; se = 1.0;
    } else if (v > bv) {
      se = se * scaled(bv, v) + 1.0;
      bv = v; bi = i;
    } else {
      se += scaled(v, bv);
    }
  }
  best_v[lane] = bv;
  best_i[lane] = bi;
  sum_e[lane] = se;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      let ov = best_v[lane + s];
      let oi = best_i[lane + s];
      let mine = best_i[lane];
      if (oi != NONE) {
        if (mine == NONE) {
          best_v[lane] = ov;
          best_i[lane] = oi;
          sum_e[lane] = sum_e[lane + s];
        } else {
          let mv = best_v[lane];
          let m = max(mv, ov);
          sum_e[lane] = sum_e[lane] * scaled(mv, m) + sum_e[lane + s] * scaled(ov, m);
          if (ov > mv || (ov == mv && oi < mine)) {
            best_v[lane] = ov;
            best_i[lane] = oi;
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let none = best_i[0] == NONE;
    out[2u * r] = select(best_i[0], 0u, none);
    out[2u * r + 1u] = bitcast<u32>(select(1.0 / sum_e[0], 0.0, none));
  }
}
