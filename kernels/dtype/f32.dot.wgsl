// x · (chunk c of row n) with x read through x4() (the op's staged input): f32, one vec4 per chunk.
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  return dot(w[n * (K / 4u) + c], x4(c));
}
