// cos/sin of the rotary angles, computed in f64 on the CPU once per model: [position][nRot/2] of
// (cos, sin) as f32. pos * theta^(-2i/nRot), as llama.cpp and llama2.c define it, with the model's rope
// scaling and per-frequency factors when it has them (ropeScaling.ts). Doing this on the CPU keeps the
// GPU's sin/cos (whose precision WGSL does not pin down for large angles) out of the model.

import { NO_ROPE_SCALING, ropeRates, type RopeScaling } from './ropeScaling';

export function ropeTable(positions: number, nRot: number, theta: number, scaling: RopeScaling = NO_ROPE_SCALING, freqFactors?: Float32Array): Float32Array {
  const half = nRot / 2;
  const out = new Float32Array(positions * half * 2);
  const { rate, magnitude } = ropeRates(nRot, theta, scaling, freqFactors);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * rate[i];
      out[2 * (p * half + i)] = Math.cos(a) * magnitude;
      out[2 * (p * half + i) + 1] = Math.sin(a) * magnitude;
    }
  }
  return out;
}
