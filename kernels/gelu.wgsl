// m[t][i] = gelu(u[t][i]) over the FFN's up projection (StarCoder2: up -> GELU -> down, no gate), in the
// tanh form the model was trained with: 0.5 x (1 + tanh(sqrt(2/π) x (1 + 0.044715 x²))), in f32, with
// llama.cpp's clamps (0 at x <= -10, x at x >= 10; tanh's argument stays far from f32's overflow).
// llama.cpp's CPU backend looks GELU up in a table of f16 inputs and outputs (GGML_GELU_FP16), which rounds
// each activation by up to 2^-11; its GPU backends compute it in f32, as here. That rounding is most of
// the difference between the two on StarCoder2 (test/oracle/model-vs-llamacpp.test.ts).

override F: u32;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> u: array<f32>;        // [T][F]
@group(0) @binding(5) var<storage, read_write> m: array<f32>;  // [T][F]

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= F || t >= step.n_tokens) { return; }
  let x = u[t * F + i];
  var y = x;
  if (x <= -10.0) {
    y = 0.0;
  } else if (x < 10.0) {
    y = 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)));
  }
  m[t * F + i] = y;
}
