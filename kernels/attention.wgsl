// Causal attention of the batch's queries over the paged cache (GQA: query head h reads kv head
// h / (N_HEADS / N_KV)). One workgroup per (query head, token). The WG lanes split the keys
// 0..p (or the last WINDOW of them) and each keeps an online softmax (running max m, sum l, and the
// weighted sum of V); the lanes' partial states are merged at the end through workgroup memory.
// q is read from the roped qkv rows; out[t] = [N_HEADS x HD].

override N_HEADS: u32;
override N_KV: u32;
override BLOCK: u32;
override SCALE: f32;
// 0: full causal attention; W > 0: each query sees only the last W positions (sliding window).
override WINDOW: u32 = 0u;

const HD: u32 = {{HD}}u;
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;          // [T][(N_HEADS + 2 N_KV) HD]
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;      // [blocks][N_KV][BLOCK][HD]
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read> block_table: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // [T][N_HEADS HD]

var<workgroup> lane_m: array<f32, WG>;
var<workgroup> lane_l: array<f32, WG>;
var<workgroup> lane_acc: array<f32, WG * HD>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wid.x;
  let t = wid.y;
  if (t >= step.n_tokens) { return; }
  let g = h / (N_HEADS / N_KV);
  let p = step.pos0 + t;
  var lo = 0u;
  if (WINDOW > 0u && p + 1u > WINDOW) { lo = p + 1u - WINDOW; }

  var q: array<f32, HD>;
  let qrow = t * (N_HEADS + 2u * N_KV) * HD + h * HD;
  for (var d = 0u; d < HD; d++) { q[d] = qkv[qrow + d] * SCALE; }

  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, HD>;
  for (var j = lo + lane; j <= p; j += WG) {
    let base = (block_table[j / BLOCK] * N_KV + g) * BLOCK * HD + (j % BLOCK) * HD;
    var s = 0.0;
    for (var d = 0u; d < HD; d++) { s += q[d] * k_cache[base + d]; }
    let m_new = max(m, s);
    let corr = exp(m - m_new);
    let e = exp(s - m_new);
    l = l * corr + e;
    for (var d = 0u; d < HD; d++) { acc[d] = acc[d] * corr + e * v_cache[base + d]; }
    m = m_new;
  }

  lane_m[lane] = m;
  lane_l[lane] = l;
  workgroupBarrier();
  var m_all = -3.0e38;
  for (var i = 0u; i < WG; i++) { m_all = max(m_all, lane_m[i]); }
  var l_all = 0.0;
  for (var i = 0u; i < WG; i++) {
    if (lane_l[i] > 0.0) { l_all += lane_l[i] * exp(lane_m[i] - m_all); }
  }
  let f = select(0.0, exp(m - m_all), l > 0.0);
  for (var d = 0u; d < HD; d++) { lane_acc[lane * HD + d] = acc[d] * f; }
  workgroupBarrier();
  let orow = t * N_HEADS * HD + h * HD;
  for (var d = lane; d < HD; d += WG) {
    var s = 0.0;
    for (var i = 0u; i < WG; i++) { s += lane_acc[i * HD + d]; }
    out[orow + d] = s / l_all;
  }
}
