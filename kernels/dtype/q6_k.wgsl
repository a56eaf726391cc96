// Q6_K, repacked at upload (src/loaders/repack.ts): per 256-weight superblock, ql[128] then qh[64]
// contiguous in `w` ([rows][K/256] x 12 vec4<u32>: vec4s 0-7 ql, 8-11 qh) and the 16 int8 sub-block
// scales then d (widened to f32) apart in `w_scales` ([rows][K/256] x 5 u32).
// Chunk c (32 weights) of a superblock is half h = c/4, quarter k = c%4: weight l (0..31) has its low
// 4 bits in ql[64h + 32(k&1) + l] (low nibble for k < 2, high for k >= 2), its top 2 bits at bit 2k of
// qh[32h + l], scale sc[8h + 2k + l/16]; weight = (d * sc) * (q - 32), as dequantize_row_q6_K.
// Two scales per chunk: load_chunk is fully dequantised and chunk_scale 1.0 (see q4_k.wgsl).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// k_int8_scale: kernels/dtype/k_int8_scale.wgsl (prepended).

// q - 32 of four weights from a ql word (nibbles from bit `lsh`) and a qh word (2 bits from bit `hsh`).
fn q6k_q4(ql: u32, qh: u32, lsh: u32, hsh: u32) -> vec4<f32> {
  let lo = (vec4<u32>(ql) >> (vec4<u32>(0u, 8u, 16u, 24u) + lsh)) & vec4<u32>(15u);
  let hi = (vec4<u32>(qh) >> (vec4<u32>(0u, 8u, 16u, 24u) + hsh)) & vec4<u32>(3u);
  return vec4<f32>(vec4<i32>(lo | (hi << vec4<u32>(4u))) - vec4<i32>(32));
}

// (superblock, vec4 index of the chunk's ql, of its qh, k) of chunk c of a row.
fn q6k_sub(row: u32, c: u32) -> vec4<u32> {
  let sb = row * (K / 256u) + c / 8u;
  let h = (c % 8u) / 4u;
  let k = c % 4u;
  return vec4<u32>(sb, sb * 12u + 4u * h + 2u * (k & 1u), sb * 12u + 8u + 2u * h, k);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let s = q6k_sub(row, c);
  let base = 8u * ((c % 8u) / 4u) + 2u * s.w;
  let d0 = k_int8_scale(s.x, base);
  let d1 = k_int8_scale(s.x, base + 1u);
  let lsh = 4u * (s.w / 2u);
  let hsh = 2u * s.w;
  let l0 = w[s.y];
  let l1 = w[s.y + 1u];
  let h0 = w[s.z];
  let h1 = w[s.z + 1u];
  return array<vec4<f32>, XV>(
    d0 * q6k_q4(l0.x, h0.x, lsh, hsh), d0 * q6k_q4(l0.y, h0.y, lsh, hsh), d0 * q6k_q4(l0.z, h0.z, lsh, hsh), d0 * q6k_q4(l0.w, h0.w, lsh, hsh),
    d1 * q6k_q4(l1.x, h1.x, lsh, hsh), d1 * q6k_q4(l1.y, h1.y, lsh, hsh), d1 * q6k_q4(l1.z, h1.z, lsh, hsh), d1 * q6k_q4(l1.w, h1.w, lsh, hsh));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let c = e4 / 8u;
  let i = e4 % 8u;
  let s = q6k_sub(row, c);
  let d = k_int8_scale(s.x, 8u * ((c % 8u) / 4u) + 2u * s.w + i / 4u);
  return d * q6k_q4(w[s.y + i / 4u][i % 4u], w[s.z + i / 4u][i % 4u], 4u * (s.w / 2u), 2u * s.w);
}
