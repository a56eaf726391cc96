// Shared by Q4_K and Q5_K (prepended before their snippets in src/ops/matmul.ts): the 16-byte superblock
// header in w_scales is d | dmin as f16, then 12 bytes of 6-bit packed sub-block scales and mins.

// Byte i (0..15) of a superblock header.
fn kq_header_byte(h: vec4<u32>, i: u32) -> u32 {
  return (h[i / 4u] >> (8u * (i % 4u))) & 0xffu;
}

// (d * sc, dmin * m) of sub-block j of superblock sb (get_scale_min_k4 over header bytes 4..15).
fn kq_scale_min(sb: u32, j: u32) -> vec2<f32> {
  let h = w_scales[sb];
  let dm = unpack2x16float(h.x);
  var sc: u32;
  var m: u32;
  if (j < 4u) {
    sc = kq_header_byte(h, 4u + j) & 63u;
    m = kq_header_byte(h, 8u + j) & 63u;
  } else {
    sc = (kq_header_byte(h, 8u + j) & 15u) | ((kq_header_byte(h, j) >> 6u) << 4u);
    m = (kq_header_byte(h, 8u + j) >> 4u) | ((kq_header_byte(h, 4u + j) >> 6u) << 4u);
  }
  return vec2<f32>(dm.x * f32(sc), dm.y * f32(m));
}

