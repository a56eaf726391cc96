// Per-head RMSNorm of the batch's queries and keys, in place, before the rotation (Qwen3's q_norm / k_norm):
// qkv[t] = [q heads (N_HEADS x HD) | k heads (N_KV x HD) | v heads (N_KV x HD)]; each q head row becomes
// x / sqrt(mean(x²) + EPS) * q_weight, each k head row the same with k_weight; v is left as it is.
// One workgroup per (head, token): wid.x < N_HEADS + N_KV, wid.y < step.n_tokens. A row's arithmetic does
// not depend on the batch it is in, so a verify pass normalises each row with the bits of a decode step.
// Lane l adds the squares of elements l, l + WG, ... in order, then a tree over the WG lanes; each lane
// writes back only the elements it read, after the barrier, so the in-place update has no race.
// workgroup_sum.wgsl is appended.

override HD: u32;
override N_HEADS: u32;
override N_KV: u32;
override EPS: f32;
override WG: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;   // [T][(N_HEADS + 2 N_KV) HD]
@group(0) @binding(2) var<storage, read> q_weight: array<f32>;    // [HD]
@group(0) @binding(3) var<storage, read> k_weight: array<f32>;    // [HD]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let head = wid.x;
  let t = wid.y;
  if (t >= step.n_tokens || head >= N_HEADS + N_KV) { return; }
  let base = (t * (N_HEADS + 2u * N_KV) + head) * HD;
  var ss = 0.0;
  for (var i = lane; i < HD; i += WG) {
    let v = qkv[base + i];
    ss += v * v;
  }
  let scale = 1.0 / sqrt(workgroup_sum(lane, ss) / f32(HD) + EPS);
  for (var i = lane; i < HD; i += WG) {
    let w = select(k_weight[i], q_weight[i], head < N_HEADS);
    qkv[base + i] = qkv[base + i] * scale * w;
  }
}
