// x · (block c of row n) with x read through x4(), written out in full: a loop over a private array of
// dequantised vec4s is kept in (slow) local memory by some GPU compilers instead of registers.
fn dot_chunk_x(n: u32, c: u32) -> f32 {
  let b = n * (K / 32u) + c;
  let q0 = w[2u * b];
  let q1 = w[2u * b + 1u];
  let i = 8u * c;
  let s = dot(i8x4(q0.x), x4(i)) + dot(i8x4(q0.y), x4(i + 1u)) + dot(i8x4(q0.z), x4(i + 2u)) + dot(i8x4(q0.w), x4(i + 3u))
        + dot(i8x4(q1.x), x4(i + 4u)) + dot(i8x4(q1.y), x4(i + 5u)) + dot(i8x4(q1.z), x4(i + 6u)) + dot(i8x4(q1.w), x4(i + 7u));
  return s * block_scale(b);
}
