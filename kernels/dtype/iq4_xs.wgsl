// IQ4_XS's scale (after kernels/dtype/iq4.wgsl): per 256-weight superblock, `w_scales` holds the 8
// sub-block scales as int8 (ls - 32, unpacked at upload) then d as f32 (3 u32); chunk c is sub-block c % 8.
fn chunk_scale(row: u32, c: u32) -> f32 {
  let sb = row * (K / 256u) + c / 8u;
  let ib = c % 8u;
  let sc = bitcast<i32>(w_scales[sb * 3u + ib / 4u] << (24u - 8u * (ib % 4u))) >> 24u;
  return bitcast<f32>(w_scales[sb * 3u + 2u]) * f32(sc);
}
