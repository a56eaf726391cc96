// x · (chunk c of row n) with x read through x4(): two 16-weight halves, each d * sc times Σ q x,
// written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let s = q3k_sub(n, c);
  let first = 8u * (s.w / 4u) + 2u * (s.w % 4u);
  let sh = 2u * (s.w % 4u);
  let hb = s.w;
  let q0 = w[s.y];
  let q1 = w[s.y + 1u];
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  let i = 8u * c;
  let s0 = dot(q3k_q4(q0.x, h0.x, sh, hb), x4(i)) + dot(q3k_q4(q0.y, h0.y, sh, hb), x4(i + 1u))
         + dot(q3k_q4(q0.z, h0.z, sh, hb), x4(i + 2u)) + dot(q3k_q4(q0.w, h0.w, sh, hb), x4(i + 3u));
  let s1 = dot(q3k_q4(q1.x, h1.x, sh, hb), x4(i + 4u)) + dot(q3k_q4(q1.y, h1.y, sh, hb), x4(i + 5u))
         + dot(q3k_q4(q1.z, h1.z, sh, hb), x4(i + 6u)) + dot(q3k_q4(q1.w, h1.w, sh, hb), x4(i + 7u));
  return k_int8_scale(s.x, first) * s0 + k_int8_scale(s.x, first + 1u) * s1;
}
