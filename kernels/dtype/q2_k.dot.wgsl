// x · (chunk c of row n) with x read through x4(): per 16-weight half, (d * sc) Σ q x - (dmin * m) Σ x,
// written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let s = q2k_sub(n, c);
  let a = q2k_scale_min(s.x, s.z);
  let b = q2k_scale_min(s.x, s.z + 1u);
  let q0 = w[s.y];
  let q1 = w[s.y + 1u];
  let i = 8u * c;
  let x0 = x4(i); let x1 = x4(i + 1u); let x2 = x4(i + 2u); let x3 = x4(i + 3u);
  let x4_ = x4(i + 4u); let x5 = x4(i + 5u); let x6 = x4(i + 6u); let x7 = x4(i + 7u);
  let s0 = dot(q2k_q4(q0.x, s.w), x0) + dot(q2k_q4(q0.y, s.w), x1) + dot(q2k_q4(q0.z, s.w), x2) + dot(q2k_q4(q0.w, s.w), x3);
  let s1 = dot(q2k_q4(q1.x, s.w), x4_) + dot(q2k_q4(q1.y, s.w), x5) + dot(q2k_q4(q1.z, s.w), x6) + dot(q2k_q4(q1.w, s.w), x7);
  let sx0 = dot(x0 + x1 + x2 + x3, vec4<f32>(1.0));
  let sx1 = dot(x4_ + x5 + x6 + x7, vec4<f32>(1.0));
  return (a.x * s0 - a.y * sx0) + (b.x * s1 - b.y * sx1);
}
