// The output of a mixture-of-experts FFN joins the residual stream: x[t][i] += Σ_j w_j · out[t·K_USED + j][i],
// the sum over the token's K_USED experts in the router's order (the largest weight first), as llama.cpp
// adds them: ((w_0 e_0 + w_1 e_1) + w_2 e_2) + ..., times RES_SCALE (granitemoe's residual scale, deepseek's expert_weights_scale; 1
// elsewhere, and s · 1 is s bit for bit), then the residual. One invocation per element.

override D: u32;
override K_USED: u32;
override RES_SCALE: f32 = 1.0;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> expert_out: array<f32>;  // [T][K_USED][D]
@group(0) @binding(2) var<storage, read> routes: array<u32>;      // [T][K_USED][id, bitcast(w)]
@group(0) @binding(3) var<storage, read_write> x: array<f32>;     // [T][D]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= D || t >= step.n_tokens) { return; }
  let z0 = t * K_USED;
  var s = bitcast<f32>(routes[2u * z0 + 1u]) * expert_out[z0 * D + i];
  for (var j = 1u; j < K_USED; j++) {
    s += bitcast<f32>(routes[2u * (z0 + j) + 1u]) * expert_out[(z0 + j) * D + i];
  }
  x[t * D + i] += s * RES_SCALE;
}
