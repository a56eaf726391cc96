// GELU in the tanh form the GELU models were trained with, shared by gelu.wgsl (batches) and the fused
// input of matvec_split_k.wgsl (MODE 4, decode) so that both compute it with the same arithmetic:
// 0.5 x (1 + tanh(sqrt(2/π) x (1 + 0.044715 x²))), in f32, with llama.cpp's clamps (0 at x <= -10, x at
// x >= 10; tanh's argument stays far from f32's overflow).

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

fn gelu_tanh(x: f32) -> f32 {
  if (x <= -10.0) { return 0.0; }
  if (x >= 10.0) { return x; }
  return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)));
}
