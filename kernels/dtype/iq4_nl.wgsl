// IQ4_NL's scale (after kernels/dtype/iq4.wgsl): one f16 d per 32 weights, packed two to a u32 in `w_scales`.
fn chunk_scale(row: u32, c: u32) -> f32 {
  let b = row * (K / 32u) + c;
  let pair = unpack2x16float(w_scales[b >> 1u]);
  return select(pair.x, pair.y, (b & 1u) == 1u);
}
