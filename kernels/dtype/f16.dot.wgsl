// x · (chunk c of row n) with x read through x4(): f16, four weights per chunk.
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let p = w[n * (K / 4u) + c];
  return dot(vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y)), x4(c));
}
