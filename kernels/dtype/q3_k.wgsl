// Q3_K, repacked at upload (src/loaders/repack.ts): per 256-weight superblock, hmask[32] then qs[64]
// contiguous in `w` ([rows][K/256] x 6 vec4<u32>: vec4s 0-1 hmask, 2-5 qs) and apart in `w_scales`
// ([rows][K/256] x 5 u32, as q6_k) the 16 sub-block scales unpacked to int8 (s - 32), then d as f32.
// Chunk c (32 weights) of a superblock is half n = c/4, quarter j = c%4: weight l (0..31) has its low
// 2 bits at bit 2j of qs[32n + l], its high bit at bit 4n + j of hmask[l] (clear: q - 4), sub-block
// 8n + 2j + l/16; weight = (d * sc) * q, as dequantize_row_q3_K. Two scales per chunk: load_chunk is
// fully dequantised and chunk_scale 1.0 (see q4_k.wgsl).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// k_int8_scale: kernels/dtype/k_int8_scale.wgsl (prepended).

// q (-4..3) of four weights from a qs word (2 bits from bit `sh` of each byte) and an hmask word (bit `hb`).
fn q3k_q4(qs: u32, hm: u32, sh: u32, hb: u32) -> vec4<f32> {
  let lo = (vec4<u32>(qs) >> (vec4<u32>(0u, 8u, 16u, 24u) + sh)) & vec4<u32>(3u);
  let hi = (vec4<u32>(hm) >> (vec4<u32>(0u, 8u, 16u, 24u) + hb)) & vec4<u32>(1u);
  return vec4<f32>(vec4<i32>(lo | (hi << vec4<u32>(2u))) - vec4<i32>(4));
}

// (superblock, vec4 index of the chunk's qs, of the superblock's hmask, chunk in superblock) of chunk c.
fn q3k_sub(row: u32, c: u32) -> vec4<u32> {
  let sb = row * (K / 256u) + c / 8u;
  let n = (c % 8u) / 4u;
  return vec4<u32>(sb, sb * 6u + 2u + 2u * n, sb * 6u, c % 8u);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let s = q3k_sub(row, c);
  let first = 8u * (s.w / 4u) + 2u * (s.w % 4u);
  let d0 = k_int8_scale(s.x, first);
  let d1 = k_int8_scale(s.x, first + 1u);
  let sh = 2u * (s.w % 4u);
  let hb = s.w;
  let q0 = w[s.y];
  let q1 = w[s.y + 1u];
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  return array<vec4<f32>, XV>(
    d0 * q3k_q4(q0.x, h0.x, sh, hb), d0 * q3k_q4(q0.y, h0.y, sh, hb), d0 * q3k_q4(q0.z, h0.z, sh, hb), d0 * q3k_q4(q0.w, h0.w, sh, hb),
    d1 * q3k_q4(q1.x, h1.x, sh, hb), d1 * q3k_q4(q1.y, h1.y, sh, hb), d1 * q3k_q4(q1.z, h1.z, sh, hb), d1 * q3k_q4(q1.w, h1.w, sh, hb));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let c = e4 / 8u;
  let i = e4 % 8u;
  let s = q3k_sub(row, c);
  let d = k_int8_scale(s.x, 8u * (s.w / 4u) + 2u * (s.w % 4u) + i / 4u);
  return d * q3k_q4(w[s.y + i / 4u][i % 4u], w[s.z + i / 4u][i % 4u], 2u * (s.w % 4u), s.w);
}
