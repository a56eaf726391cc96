// x · (chunk c of row n) with x read through x4(): two 16-weight halves, each d * sc times Σ (q - 32) x,
// written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let s = q6k_sub(n, c);
  let base = 8u * ((c % 8u) / 4u) + 2u * s.w;
  let lsh = 4u * (s.w / 2u);
  let hsh = 2u * s.w;
  let l0 = w[s.y];
  let l1 = w[s.y + 1u];
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  let i = 8u * c;
  let s0 = dot(q6k_q4(l0.x, h0.x, lsh, hsh), x4(i)) + dot(q6k_q4(l0.y, h0.y, lsh, hsh), x4(i + 1u))
         + dot(q6k_q4(l0.z, h0.z, lsh, hsh), x4(i + 2u)) + dot(q6k_q4(l0.w, h0.w, lsh, hsh), x4(i + 3u));
  let s1 = dot(q6k_q4(l1.x, h1.x, lsh, hsh), x4(i + 4u)) + dot(q6k_q4(l1.y, h1.y, lsh, hsh), x4(i + 5u))
         + dot(q6k_q4(l1.z, h1.z, lsh, hsh), x4(i + 6u)) + dot(q6k_q4(l1.w, h1.w, lsh, hsh), x4(i + 7u));
  return k_int8_scale(s.x, base) * s0 + k_int8_scale(s.x, base + 1u) * s1;
}
