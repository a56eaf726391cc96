// cos/sin of the rotary angles, computed in f64 on the CPU once per model: [position][nRot/2] of
// (cos, sin) as f32. pos * theta^(-2i/nRot), as llama.cpp and llama2.c define it. Doing this on the CPU
// keeps the GPU's sin/cos (whose precision WGSL does not pin down for large angles) out of the model.

export function ropeTable(positions: number, nRot: number, theta: number): Float32Array {
  const half = nRot / 2;
  const out = new Float32Array(positions * half * 2);
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.pow(theta, (-2 * i) / nRot);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i];
      out[2 * (p * half + i)] = Math.cos(a);
      out[2 * (p * half + i) + 1] = Math.sin(a);
    }
  }
  return out;
}
