// x · (sub-block c of row n) with x read through x4(): (d * sc) Σ q x - (dmin * m) Σ x, written out in
// full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let s = q5k_sub(n, c);
  let sm = kq_scale_min(s.x, s.y);
  let sh = 4u * (s.y & 1u);
  let j = s.y;
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  let q0 = w[s.w];
  let q1 = w[s.w + 1u];
  let i = 8u * c;
  let x0 = x4(i); let x1 = x4(i + 1u); let x2 = x4(i + 2u); let x3 = x4(i + 3u);
  let x4_ = x4(i + 4u); let x5 = x4(i + 5u); let x6 = x4(i + 6u); let x7 = x4(i + 7u);
  let sq = dot(q5k_q4(q0.x, h0.x, sh, j), x0) + dot(q5k_q4(q0.y, h0.y, sh, j), x1)
         + dot(q5k_q4(q0.z, h0.z, sh, j), x2) + dot(q5k_q4(q0.w, h0.w, sh, j), x3)
         + dot(q5k_q4(q1.x, h1.x, sh, j), x4_) + dot(q5k_q4(q1.y, h1.y, sh, j), x5)
         + dot(q5k_q4(q1.z, h1.z, sh, j), x6) + dot(q5k_q4(q1.w, h1.w, sh, j), x7);
  let sx = dot(x0 + x1 + x2 + x3 + x4_ + x5 + x6 + x7, vec4<f32>(1.0));
  return sm.x * sq - sm.y * sx;
}
