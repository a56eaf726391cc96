// m[t][i] = silu(gate[t][i]) * up[t][i], with gate and up side by side in one row of the fused
// gate/up projection: gu[t] = [gate (F) | up (F)]. ROW_GATE (qwen2moe's shared expert): times
// sigmoid(row_gate[t]), a logit per token; the down projection is linear and has no bias, so this scales its
// output as llama.cpp's ffn_shexp * sigmoid does.

override F: u32;
override WG: u32 = 64u;
override ROW_GATE: bool = false;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> gu: array<f32>;       // [T][2F]
@group(0) @binding(2) var<storage, read> row_gate: array<f32>; // ROW_GATE: [T]
@group(0) @binding(5) var<storage, read_write> m: array<f32>;  // [T][F]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= F || t >= step.n_tokens) { return; }
  let g = gu[t * 2u * F + i];
  let u = gu[t * 2u * F + F + i];
  var v = g / (1.0 + exp(-g)) * u;
  if (ROW_GATE) { v *= 1.0 / (1.0 + exp(-row_gate[t])); }
  m[t * F + i] = v;
}
