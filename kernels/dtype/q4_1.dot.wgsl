// x · (block c of row n) with x read through x4(): d Σ q x + m Σ x, written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let b = n * (K / 32u) + c;
  let q = w[b];
  let dm = unpack2x16float(w_scales[b]);
  let i = 8u * c;
  let x0 = x4(i); let x1 = x4(i + 1u); let x2 = x4(i + 2u); let x3 = x4(i + 3u);
  let x4_ = x4(i + 4u); let x5 = x4(i + 5u); let x6 = x4(i + 6u); let x7 = x4(i + 7u);
  let sq = dot(q4_1_4(q.x, 0u), x0) + dot(q4_1_4(q.y, 1u), x1) + dot(q4_1_4(q.z, 2u), x2) + dot(q4_1_4(q.w, 3u), x3)
         + dot(q4_1_4(q.x, 4u), x4_) + dot(q4_1_4(q.y, 5u), x5) + dot(q4_1_4(q.z, 6u), x6) + dot(q4_1_4(q.w, 7u), x7);
  let sx = dot(x0 + x1 + x2 + x3 + x4_ + x5 + x6 + x7, vec4<f32>(1.0));
  return dm.x * sq + dm.y * sx;
}
