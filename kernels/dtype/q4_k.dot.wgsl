// x · (sub-block c of row n) with x read through x4(): (d * sc) Σ q x - (dmin * m) Σ x, written out in
// full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let s = q4k_sub(n, c);
  let sm = kq_scale_min(s.x, s.y);
  let sh = 4u * (s.y & 1u);
  let q0 = w[s.z];
  let q1 = w[s.z + 1u];
  let i = 8u * c;
  let x0 = x4(i); let x1 = x4(i + 1u); let x2 = x4(i + 2u); let x3 = x4(i + 3u);
  let x4_ = x4(i + 4u); let x5 = x4(i + 5u); let x6 = x4(i + 6u); let x7 = x4(i + 7u);
  let sq = dot(kq_nib4(q0.x, sh), x0) + dot(kq_nib4(q0.y, sh), x1) + dot(kq_nib4(q0.z, sh), x2) + dot(kq_nib4(q0.w, sh), x3)
         + dot(kq_nib4(q1.x, sh), x4_) + dot(kq_nib4(q1.y, sh), x5) + dot(kq_nib4(q1.z, sh), x6) + dot(kq_nib4(q1.w, sh), x7);
  let sx = dot(x0 + x1 + x2 + x3 + x4_ + x5 + x6 + x7, vec4<f32>(1.0));
  return sm.x * sq - sm.y * sx;
}
