// x · (block c of row n) with x read through x4(), written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let b = n * (K / 32u) + c;
  let q = w[b];
  let s = w_scales[b];
  let i = 8u * c;
  let sq = dot(q5_0_4(q.x, s.y, 0u), x4(i)) + dot(q5_0_4(q.y, s.y, 1u), x4(i + 1u))
         + dot(q5_0_4(q.z, s.y, 2u), x4(i + 2u)) + dot(q5_0_4(q.w, s.y, 3u), x4(i + 3u))
         + dot(q5_0_4(q.x, s.y, 4u), x4(i + 4u)) + dot(q5_0_4(q.y, s.y, 5u), x4(i + 5u))
         + dot(q5_0_4(q.z, s.y, 6u), x4(i + 6u)) + dot(q5_0_4(q.w, s.y, 7u), x4(i + 7u));
  return sq * unpack2x16float(s.x).x;
}
