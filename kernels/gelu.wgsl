// The GELU FFNs' activation (gelu_tanh.wgsl is appended), one element per lane:
//   GATED 0: m[t][i] = gelu(u[t][i]) over the up projection (StarCoder2: up -> GELU -> down, no gate);
//   GATED 1: m[t][i] = gelu(gate[t][i]) · up[t][i] with gate and up side by side in one row of the fused
//            gate/up projection, u[t] = [gate (F) | up (F)] (Gemma's GeGLU; silu_mul.wgsl's twin).
// llama.cpp's CPU backend looks GELU up in a table of f16 inputs and outputs (GGML_GELU_FP16), which rounds
// each activation by up to 2^-11; its GPU backends compute it in f32, as here. That rounding is most of
// the difference between the two on StarCoder2 and Gemma (test/oracle/model-vs-llamacpp.test.ts).

override F: u32;
override WG: u32 = 64u;
override GATED: u32 = 0u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> u: array<f32>;        // [T][F], or [T][2F] when GATED
@group(0) @binding(5) var<storage, read_write> m: array<f32>;  // [T][F]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= F || t >= step.n_tokens) { return; }
  if (GATED == 1u) {
    m[t * F + i] = gelu_tanh(u[t * 2u * F + i]) * u[t * 2u * F + F + i];
  } else {
    m[t * F + i] = gelu_tanh(u[t * F + i]);
  }
}
