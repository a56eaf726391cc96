// The router of a mixture-of-experts FFN (one workgroup for the whole batch), as llama.cpp's build_moe_ffn
// with softmax gating and normalised weights. Lanes take tokens t = lane, lane + WG, ...:
// p = softmax(logits[t]) over N_EXPERT; the K_USED most probable experts in descending order (ties: the
// lower index first); their weights w_j = p_j / Σ p, the sum clamped to >= 6.103515625e-5 (the smallest
// normal f16, as llama.cpp). Writes routes[t · K_USED + j] = (expert id, bits of w_j) for the combine
// (moe_combine.wgsl). Then lane 0 groups the P = T · K_USED (token, slot) pairs by expert, as llama.cpp's
// mul_mat_id does, for the expert matvecs (matvec_experts.wgsl): `order` lists the pairs expert by
// expert (each expert's in pair order), and `tiles` holds [count, then (expert, first, n) per tile] with
// tiles of at most TT pairs of one expert. Nothing of it leaves the GPU.

override N_EXPERT: u32;
override K_USED: u32;
override TT: u32;

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // [T][N_EXPERT]
@group(0) @binding(2) var<storage, read_write> routes: array<u32>;    // [T][K_USED][id, bitcast(w)]
@group(0) @binding(3) var<storage, read_write> order: array<u32>;     // [P]
@group(0) @binding(4) var<storage, read_write> tiles: array<u32>;     // [1 + 3 · tiles]

// One bit per expert already chosen (MAX_EXPERTS = 512 in src/model/config.ts).
var<private> taken: array<u32, 16>;
// Lane 0's counting sort: pairs per expert, then each expert's next place in `order`.
var<workgroup> cursor: array<u32, 512>;

fn route(t: u32) {
  let row = t * N_EXPERT;
  var m = -3.0e38;
  for (var e = 0u; e < N_EXPERT; e++) { m = max(m, logits[row + e]); }
  var s = 0.0;
  for (var e = 0u; e < N_EXPERT; e++) { s += exp(logits[row + e] - m); }
  let inv = 1.0 / s;
  for (var i = 0u; i < 16u; i++) { taken[i] = 0u; }
  var sum_w = 0.0;
  for (var j = 0u; j < K_USED; j++) {
    var best = 0u;
    var best_l = -3.4e38;
    var found = false;
    for (var e = 0u; e < N_EXPERT; e++) {
      let l = logits[row + e];
      if ((taken[e / 32u] & (1u << (e % 32u))) == 0u && (!found || l > best_l)) {
        best = e;
        best_l = l;
        found = true;
      }
    }
    taken[best / 32u] |= 1u << (best % 32u);
    // The probability as softmax gives it: exp(l - max) times 1 / sum (ggml_soft_max's order).
    let p = exp(best_l - m) * inv;
    sum_w += p;
    routes[2u * (t * K_USED + j)] = best;
    routes[2u * (t * K_USED + j) + 1u] = bitcast<u32>(p);
  }
  let scale = max(sum_w, 6.103515625e-5);
  for (var j = 0u; j < K_USED; j++) {
    let at = 2u * (t * K_USED + j) + 1u;
    routes[at] = bitcast<u32>(bitcast<f32>(routes[at]) / scale);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32) {
  let T = step.n_tokens;
  for (var t = lane; t < T; t += WG) { route(t); }
  storageBarrier();
  workgroupBarrier();
  if (lane != 0u) { return; }
  let P = T * K_USED;
  for (var e = 0u; e < N_EXPERT; e++) { cursor[e] = 0u; }
  for (var z = 0u; z < P; z++) { cursor[routes[2u * z]] += 1u; }
  var at = 0u;
  var n_tiles = 0u;
  for (var e = 0u; e < N_EXPERT; e++) {
    let c = cursor[e];
    for (var s = 0u; s < c; s += TT) {
      tiles[1u + 3u * n_tiles] = e;
      tiles[2u + 3u * n_tiles] = at + s;
      tiles[3u + 3u * n_tiles] = min(TT, c - s);
      n_tiles += 1u;
    }
    cursor[e] = at;
    at += c;
  }
  tiles[0] = n_tiles;
  for (var z = 0u; z < P; z++) {
    let e = routes[2u * z];
    order[cursor[e]] = z;
    cursor[e] += 1u;
  }
}
