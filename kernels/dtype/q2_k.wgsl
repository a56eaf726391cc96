// Q2_K, repacked at upload (src/loaders/repack.ts): per 256-weight superblock, qs[64] contiguous in `w`
// ([rows][K/256] x 4 vec4<u32>) and apart in `w_scales` ([rows][K/256] x 6 u32) the 16 sub-block bytes
// (scale in the low nibble, min in the high) then d and dmin widened to f32.
// Chunk c (32 weights) of a superblock is half n = c/4, quarter j = c%4: weight l (0..31) has its 2 bits
// at bit 2j of qs[32n + l] and sub-block 8n + 2j + l/16; weight = (d * sc) * q - (dmin * m), as
// dequantize_row_q2_K. Two (scale, min) pairs per chunk: load_chunk is fully dequantised and
// chunk_scale 1.0 (see q4_k.wgsl).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// (d * sc, dmin * m) of sub-block idx (0..15) of superblock sb.
fn q2k_scale_min(sb: u32, idx: u32) -> vec2<f32> {
  let b = (w_scales[sb * 6u + idx / 4u] >> (8u * (idx % 4u))) & 0xffu;
  return vec2<f32>(bitcast<f32>(w_scales[sb * 6u + 4u]) * f32(b & 15u), bitcast<f32>(w_scales[sb * 6u + 5u]) * f32(b >> 4u));
}

// The 2-bit quants of the four bytes of a word, from bit `sh` of each byte.
fn q2k_q4(word: u32, sh: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + sh)) & vec4<u32>(3u));
}

// (superblock, vec4 index of the chunk's qs, its first sub-block, bit shift) of chunk c of a row.
fn q2k_sub(row: u32, c: u32) -> vec4<u32> {
  let sb = row * (K / 256u) + c / 8u;
  let n = (c % 8u) / 4u;
  let j = c % 4u;
  return vec4<u32>(sb, sb * 4u + 2u * n, 8u * n + 2u * j, 2u * j);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let s = q2k_sub(row, c);
  let a = q2k_scale_min(s.x, s.z);
  let b = q2k_scale_min(s.x, s.z + 1u);
  let q0 = w[s.y];
  let q1 = w[s.y + 1u];
  return array<vec4<f32>, XV>(
    a.x * q2k_q4(q0.x, s.w) - a.y, a.x * q2k_q4(q0.y, s.w) - a.y, a.x * q2k_q4(q0.z, s.w) - a.y, a.x * q2k_q4(q0.w, s.w) - a.y,
    b.x * q2k_q4(q1.x, s.w) - b.y, b.x * q2k_q4(q1.y, s.w) - b.y, b.x * q2k_q4(q1.z, s.w) - b.y, b.x * q2k_q4(q1.w, s.w) - b.y);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let s = q2k_sub(row, e4 / 8u);
  let i = e4 % 8u;
  let a = q2k_scale_min(s.x, s.z + i / 4u);
  return a.x * q2k_q4(w[s.y + i / 4u][i % 4u], s.w) - a.y;
}
