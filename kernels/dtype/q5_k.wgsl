// Q5_K, repacked at upload (src/loaders/repack.ts): per 256-weight superblock, qh[32] then qs[128]
// contiguous in `w` ([rows][K/256] x 10 vec4<u32>: vec4s 0-1 qh, 2-9 qs) and the 16 header bytes apart
// in `w_scales` (as Q4_K: d | dmin f16, 12 bytes of packed 6-bit scales and mins).
// Sub-block j: nibbles as Q4_K, fifth bit = bit j of qh[l] for its weight l (qh word i holds weights
// 4i..4i+3, like qs word i); weight = (d * sc_j) * (nibble + 16 * bit) - (dmin * m_j).
// Chunks are sub-blocks; load_chunk is fully dequantised and chunk_scale 1.0 (see q4_k.wgsl).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<vec4<u32>>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// kq_header_byte, kq_scale_min: kernels/dtype/k_scale_min.wgsl (prepended).

// The 5-bit quants of four weights: nibbles from bit `shift` of the qs word's bytes, bit j of the qh word's.
fn q5k_q4(qs: u32, qh: u32, shift: u32, j: u32) -> vec4<f32> {
  let lo = (vec4<u32>(qs) >> (vec4<u32>(0u, 8u, 16u, 24u) + shift)) & vec4<u32>(15u);
  let hi = (vec4<u32>(qh) >> (vec4<u32>(0u, 8u, 16u, 24u) + j)) & vec4<u32>(1u);
  return vec4<f32>(lo | (hi << vec4<u32>(4u)));
}

// (superblock, sub-block j, vec4 index of its qh, of its qs) of chunk c of a row.
fn q5k_sub(row: u32, c: u32) -> vec4<u32> {
  let sb = row * (K / 256u) + c / 8u;
  let j = c % 8u;
  return vec4<u32>(sb, j, sb * 10u, sb * 10u + 2u + (j / 2u) * 2u);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let s = q5k_sub(row, c);
  let sm = kq_scale_min(s.x, s.y);
  let sh = 4u * (s.y & 1u);
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  let q0 = w[s.w];
  let q1 = w[s.w + 1u];
  return array<vec4<f32>, XV>(
    sm.x * q5k_q4(q0.x, h0.x, sh, s.y) - sm.y, sm.x * q5k_q4(q0.y, h0.y, sh, s.y) - sm.y,
    sm.x * q5k_q4(q0.z, h0.z, sh, s.y) - sm.y, sm.x * q5k_q4(q0.w, h0.w, sh, s.y) - sm.y,
    sm.x * q5k_q4(q1.x, h1.x, sh, s.y) - sm.y, sm.x * q5k_q4(q1.y, h1.y, sh, s.y) - sm.y,
    sm.x * q5k_q4(q1.z, h1.z, sh, s.y) - sm.y, sm.x * q5k_q4(q1.w, h1.w, sh, s.y) - sm.y);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let s = q5k_sub(row, e4 / 8u);
  let i = e4 % 8u;
  let sm = kq_scale_min(s.x, s.y);
  return sm.x * q5k_q4(w[s.w + i / 4u][i % 4u], w[s.z + i / 4u][i % 4u], 4u * (s.y & 1u), s.y) - sm.y;
}
