// x · (block c of row n) with x read through x4(), written out in full (see q8_0.dot.wgsl).
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let b = n * (K / 32u) + c;
  let q = w[b];
  let i = 8u * c;
  let s = dot(lo4(q.x), x4(i)) + dot(lo4(q.y), x4(i + 1u)) + dot(lo4(q.z), x4(i + 2u)) + dot(lo4(q.w), x4(i + 3u))
        + dot(hi4(q.x), x4(i + 4u)) + dot(hi4(q.y), x4(i + 5u)) + dot(hi4(q.z), x4(i + 6u)) + dot(hi4(q.w), x4(i + 7u));
  return s * block_scale(b);
}
