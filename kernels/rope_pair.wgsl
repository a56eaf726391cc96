// One rotary pair of a head row, shared by rope_store_kv.wgsl (batches) and attention.wgsl (the fused
// decode variant) so that both rotate with the same arithmetic. Pair i rotates dims (a, b): NeoX
// (i, i + N_ROT/2), normal (2i, 2i + 1); pairs i >= N_ROT/2 are (2i, 2i + 1), passed through unrotated.
// The including kernel declares the overrides N_ROT and NEOX. cs = (cos, sin) of the position's angle.

fn rope_dims(i: u32) -> vec2<u32> {
  if (i < N_ROT / 2u && NEOX == 1u) { return vec2<u32>(i, i + N_ROT / 2u); }
  return vec2<u32>(2u * i, 2u * i + 1u);
}

fn rope_rotate(v: vec2<f32>, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(v.x * cs.x - v.y * cs.y, v.x * cs.y + v.y * cs.x);
}
