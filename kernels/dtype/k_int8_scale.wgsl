// Shared by Q3_K and Q6_K (prepended before their snippets in src/ops/matmul.ts): per superblock, w_scales
// holds 16 int8 sub-block scales then d as f32 (5 u32; src/loaders/repack.ts).

// d * sc[idx] of superblock sb (sc is int8: sign-extended by shifts).
fn k_int8_scale(sb: u32, idx: u32) -> f32 {
  let word = w_scales[sb * 5u + idx / 4u];
  let sc = bitcast<i32>(word << (24u - 8u * (idx % 4u))) >> 24u;
  return bitcast<f32>(w_scales[sb * 5u + 4u]) * f32(sc);
}
