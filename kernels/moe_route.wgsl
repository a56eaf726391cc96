// The router of a mixture-of-experts FFN, one invocation per token t of the batch, as llama.cpp's
// build_moe_ffn (softmax gating, normalised weights): p = softmax(logits[t]) over N_EXPERT; the K_USED most
// probable experts in descending order (ties: the lower index first); their weights w_j = p_j / Σ p, the
// sum clamped to >= 6.103515625e-5 (the smallest normal f16, as llama.cpp), or with NORMALIZE false
// (qwen2moe) w_j = p_j as they are. Writes routes[t · K_USED + j] =
// (expert id, bits of w_j): what the expert matvecs (matvec_experts.wgsl) and the combine
// (moe_combine.wgsl) read, so the choice never leaves the GPU.

override N_EXPERT: u32;
override K_USED: u32;
override NORMALIZE: bool = true;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // [T][N_EXPERT]
@group(0) @binding(2) var<storage, read_write> routes: array<u32>;    // [T][K_USED][id, bitcast(w)]

// One bit per expert already chosen (MAX_EXPERTS = 512 in src/model/config.ts).
var<private> taken: array<u32, 16>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= step.n_tokens) { return; }
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
  if (!NORMALIZE) { return; }
  let scale = max(sum_w, 6.103515625e-5);
  for (var j = 0u; j < K_USED; j++) {
    let at = 2u * (t * K_USED + j) + 1u;
    routes[at] = bitcast<u32>(bitcast<f32>(routes[at]) / scale);
  }
}
