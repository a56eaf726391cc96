// x · (chunk c of row n) with x read through x4(), written out in full (see q8_0.dot.wgsl): IQ4_NL and IQ4_XS.
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let q = w[n * (K / 32u) + c];
  let i = 8u * c;
  let s = dot(iq4_kv4(q.x, 0u), x4(i)) + dot(iq4_kv4(q.y, 0u), x4(i + 1u)) + dot(iq4_kv4(q.z, 0u), x4(i + 2u)) + dot(iq4_kv4(q.w, 0u), x4(i + 3u))
        + dot(iq4_kv4(q.x, 4u), x4(i + 4u)) + dot(iq4_kv4(q.y, 4u), x4(i + 5u)) + dot(iq4_kv4(q.z, 4u), x4(i + 6u)) + dot(iq4_kv4(q.w, 4u), x4(i + 7u));
  return s * chunk_scale(n, c);
}
