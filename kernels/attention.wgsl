// Causal attention of the batch's queries over the paged cache (GQA: query head h reads kv head
// h / (N_HEADS / N_KV)). One workgroup per (query head, token, split of the keys). The WG lanes split
// the keys of their range and each keeps an online softmax (running max m, sum l, and the weighted sum
// of V); the lanes' states are merged through workgroup memory. With one split (a long prefill batch, or
// a software adapter) the result goes straight to `out`; with several (on a GPU, decode and batches of up
// to 32 tokens: flash-decoding, so a long context fills the device) each split writes its (acc, m, l) to
// `partials` and attention_combine.wgsl merges them. A query's splits start at its own first key, so a
// token's numbers in such a batch are those of decoding it (a query past its keys leaves a split empty).
// K, V and q are read as vec4 (HD % 4 == 0). The cache holds f32 or f16; kv_vec is one vec4 of it
// (vec4<f32>, or four f16 as vec2<u32>) and load4 widens it to vec4<f32>, so scores, the softmax and the
// weighted sum of V are all accumulated in f32. (f16 is read as u32 pairs through
// unpack2x16float, not as vec4<f16>: on lavapipe vec4<f16> loads took 1.33x / 0.99x f32's time at 512 /
// 2048 keys, the unpack 0.64-0.74x; bench/kv-type.ts --kernels-only.)
// Decode (one token) fuses rope_store_kv in ({{FUSED_ROPE}}, a pipeline of its own): the workgroup ropes
// its head's q and its kv head's new k in workgroup memory (the same f32 arithmetic as rope_store_kv),
// uses the new k/v for the current position instead of reading them back from the cache (no other
// workgroup of this dispatch could see them there), and the first query head of each kv group, in the
// split holding the current position, writes them into the cache for later steps. One dispatch per layer
// fewer; q in `qkv` is left unrotated. The new k/v are converted to the cache's element type (to_kv)
// before use, so the current position reads exactly what later steps will.
// ALiBi (refact): nothing rotates (N_ROT 0), and `rope` holds each head's slope instead of a rope table
// ([N_HEADS] (slope, 0), alibiSlopes in src/model/alibi.ts): the score of query p on key j <= p gets
// -slope (p - j) after the scale, as llama.cpp's soft_max_ext adds slope x mask with mask = -|p - j|.

override N_HEADS: u32;
override N_KV: u32;
override BLOCK: u32;
override SCALE: f32;
// 0: full causal attention; W > 0: each query sees only the last W positions (sliding window).
override WINDOW: u32 = 0u;
// Keys per split when step.n_splits > 1.
override SPLIT_KEYS: u32 = 64u;
// FUSED_ROPE: rotary dims and pairing (as rope_store_kv.wgsl).
override N_ROT: u32 = 0u;
override NEOX: u32 = 0u;
override ALIBI: bool = false;
const FUSED_ROPE: bool = {{FUSED_ROPE}};

const HD: u32 = {{HD}}u;
const HD4: u32 = HD / 4u;
const WG: u32 = {{WG}}u;
{{KV_LOAD}}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;      // [T][(N_HEADS + 2 N_KV) HD / 4]
@group(0) @binding(2) var<storage, {{KV_ACCESS}}> k_cache: array<kv_vec>;  // [blocks][N_KV][BLOCK][HD / 4]
@group(0) @binding(3) var<storage, {{KV_ACCESS}}> v_cache: array<kv_vec>;
@group(0) @binding(4) var<storage, read> block_table: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;  // [T][N_HEADS HD / 4]
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;   // [T][N_HEADS][splits][HD + 2]
@group(0) @binding(7) var<storage, read> rope: array<vec2<f32>>;        // FUSED_ROPE: [positions][N_ROT/2] (cos, sin); ALIBI: [N_HEADS] (slope, 0)
{{STORE_NEW}}

var<workgroup> lane_m: array<f32, WG>;
var<workgroup> lane_l: array<f32, WG>;
var<workgroup> lane_acc: array<vec4<f32>, WG * HD4>;
// FUSED_ROPE: this head's roped q, and its kv head's roped k and v at the current position (f32), then
// k and v in the cache's element type (k_cur, v_cur: what the store writes and the current key reads; a
// value passed through workgroup memory, so the compiler cannot fold unpack(pack(x)) back into x).
var<workgroup> q_new: array<f32, HD>;
var<workgroup> k_new: array<f32, HD>;
var<workgroup> v_new: array<f32, HD>;
var<workgroup> k_cur: array<kv_vec, HD4>;
var<workgroup> v_cur: array<kv_vec, HD4>;

fn qkv_at(i: u32) -> f32 {
  return qkv[i / 4u][i % 4u];
}

// The bound of the loops over the workgroup's lanes (n = WG). On a GPU it is WG, a constant. On a software
// adapter it also reads the step uniform (WG unless n_tokens is 2^32 - 1, which it never is), so the
// compiler cannot fold it and keeps the loops rolled: lavapipe JIT-compiles a kernel at its first
// dispatch, and unrolled lane loops were 1.5-5 s of this kernel's 6.7-13.6 s at 8 lanes (13 s of
// 18.5-25 s at 32). The loops over HD4 stay constant everywhere: rolled, q and acc leave registers, and the
// key loop ran up to 2x slower on lavapipe.
fn loop_bound(n: u32) -> u32 {
  return {{LOOP_BOUND}};
}

fn new4(a: ptr<workgroup, array<f32, HD>>, d: u32) -> vec4<f32> {
  return vec4<f32>((*a)[4u * d], (*a)[4u * d + 1u], (*a)[4u * d + 2u], (*a)[4u * d + 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let lanes = loop_bound(WG);
  let h = wid.x;
  let t = wid.y;
  let split = wid.z;
  if (t >= step.n_tokens) { return; }
  let g = h / (N_HEADS / N_KV);
  let p = step.pos0 + t;
  var lo = 0u;
  if (WINDOW > 0u && p + 1u > WINDOW) { lo = p + 1u - WINDOW; }
  var start = lo;
  var end = p + 1u;
  if (step.n_splits > 1u) {
    start = lo + split * SPLIT_KEYS;
    end = min(end, start + SPLIT_KEYS);
  }

  var q: array<vec4<f32>, HD4>;
  if (FUSED_ROPE) {
    // One token (t = 0): rotate q (this head) and k (kv head g) pair by pair (rope_pair.wgsl, as
    // rope_store_kv does).
    let q0 = h * HD;
    let k0 = (N_HEADS + g) * HD;
    let v0 = (N_HEADS + N_KV + g) * HD;
    for (var i = lane; i < HD / 2u; i += WG) {
      let dims = rope_dims(i);
      let a = dims.x;
      let b = dims.y;
      var qv = vec2<f32>(qkv_at(q0 + a), qkv_at(q0 + b));
      var kv = vec2<f32>(qkv_at(k0 + a), qkv_at(k0 + b));
      if (i < N_ROT / 2u) {
        let cs = rope[p * (N_ROT / 2u) + i];
        qv = rope_rotate(qv, cs);
        kv = rope_rotate(kv, cs);
      }
      q_new[a] = qv.x;
      q_new[b] = qv.y;
      k_new[a] = kv.x;
      k_new[b] = kv.y;
      v_new[a] = qkv_at(v0 + a);
      v_new[b] = qkv_at(v0 + b);
    }
    workgroupBarrier();
    for (var d = lane; d < HD4; d += WG) {
      k_cur[d] = to_kv(new4(&k_new, d));
      v_cur[d] = to_kv(new4(&v_new, d));
    }
    workgroupBarrier();
    for (var d = 0u; d < HD4; d++) { q[d] = new4(&q_new, d) * SCALE; }
    if (h % (N_HEADS / N_KV) == 0u && p >= start && p < end) {
      let slot = ((block_table[p / BLOCK] * N_KV + g) * BLOCK + p % BLOCK) * HD4;
      for (var d = lane; d < HD4; d += WG) { store_new(slot + d, k_cur[d], v_cur[d]); }
    }
  } else {
    let qrow = t * (N_HEADS + 2u * N_KV) * HD4 + h * HD4;
    for (var d = 0u; d < HD4; d++) { q[d] = qkv[qrow + d] * SCALE; }
  }

  var slope = 0.0;
  if (ALIBI) { slope = rope[h].x; }
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<vec4<f32>, HD4>;
  for (var j = start + lane; j < end; j += WG) {
    let base = ((block_table[j / BLOCK] * N_KV + g) * BLOCK + j % BLOCK) * HD4;
    // The current position's k/v (fused decode): from workgroup memory, in the cache's precision.
    let current = FUSED_ROPE && j == p;
    var s = 0.0;
    if (current) {
      for (var d = 0u; d < HD4; d++) { s += dot(q[d], load4(k_cur[d])); }
    } else {
      for (var d = 0u; d < HD4; d++) { s += dot(q[d], load4(k_cache[base + d])); }
    }
    if (ALIBI) { s -= slope * f32(p - j); }
    let m_new = max(m, s);
    let corr = exp(m - m_new);
    let e = exp(s - m_new);
    l = l * corr + e;
    if (current) {
      for (var d = 0u; d < HD4; d++) { acc[d] = acc[d] * corr + e * load4(v_cur[d]); }
    } else {
      for (var d = 0u; d < HD4; d++) { acc[d] = acc[d] * corr + e * load4(v_cache[base + d]); }
    }
    m = m_new;
  }

  lane_m[lane] = m;
  lane_l[lane] = l;
  workgroupBarrier();
  var m_all = -3.0e38;
  for (var i = 0u; i < lanes; i++) { m_all = max(m_all, lane_m[i]); }
  var l_all = 0.0;
  for (var i = 0u; i < lanes; i++) {
    if (lane_l[i] > 0.0) { l_all += lane_l[i] * exp(lane_m[i] - m_all); }
  }
  let f = select(0.0, exp(m - m_all), l > 0.0);
  for (var d = 0u; d < HD4; d++) { lane_acc[lane * HD4 + d] = acc[d] * f; }
  workgroupBarrier();
  if (step.n_splits > 1u) {
    let base = ((t * N_HEADS + h) * step.n_splits + split) * (HD + 2u);
    for (var d = lane; d < HD4; d += WG) {
      var s = vec4<f32>(0.0);
      for (var i = 0u; i < lanes; i++) { s += lane_acc[i * HD4 + d]; }
      partials[base + 4u * d] = s.x;
      partials[base + 4u * d + 1u] = s.y;
      partials[base + 4u * d + 2u] = s.z;
      partials[base + 4u * d + 3u] = s.w;
    }
    if (lane == 0u) {
      partials[base + HD] = m_all;
      partials[base + HD + 1u] = l_all;
    }
    return;
  }
  let orow = t * N_HEADS * HD4 + h * HD4;
  for (var d = lane; d < HD4; d += WG) {
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < lanes; i++) { s += lane_acc[i * HD4 + d]; }
    out[orow + d] = s / l_all;
  }
}
