// Q4_K, repacked at upload (src/loaders/repack.ts): per 256-weight superblock, the 128 quant bytes
// contiguous in `w` ([rows][K/256] x 8 vec4<u32>) and the 16 header bytes apart in `w_scales`
// ([rows][K/256] vec4<u32>: d | dmin as f16, then 12 bytes of 6-bit packed sub-block scales and mins).
// Sub-block j (32 weights) uses quant bytes 32(j/2) .. 32(j/2)+31 (vec4s 2(j/2), 2(j/2)+1), low nibbles
// for even j, high for odd; weight = (d * sc_j) * q - (dmin * m_j), as dequantize_row_q4_K.
// A chunk is one sub-block. The per-sub-block min does not factor out of a chunk as one scale, so
// load_chunk returns fully dequantised weights and chunk_scale is 1.0 (the multiply by 1 is exact).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<vec4<u32>>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// kq_header_byte, kq_scale_min: kernels/dtype/k_scale_min.wgsl (prepended).

// Nibbles of the four bytes of a word, from bit `shift` (0: low, 4: high) of each byte.
fn kq_nib4(word: u32, shift: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + shift)) & vec4<u32>(15u));
}

fn q4k_sub(row: u32, c: u32) -> vec3<u32> {
  let sb = row * (K / 256u) + c / 8u;
  let j = c % 8u;
  return vec3<u32>(sb, j, sb * 8u + (j / 2u) * 2u);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let s = q4k_sub(row, c);
  let sm = kq_scale_min(s.x, s.y);
  let sh = 4u * (s.y & 1u);
  let q0 = w[s.z];
  let q1 = w[s.z + 1u];
  return array<vec4<f32>, XV>(
    sm.x * kq_nib4(q0.x, sh) - sm.y, sm.x * kq_nib4(q0.y, sh) - sm.y, sm.x * kq_nib4(q0.z, sh) - sm.y, sm.x * kq_nib4(q0.w, sh) - sm.y,
    sm.x * kq_nib4(q1.x, sh) - sm.y, sm.x * kq_nib4(q1.y, sh) - sm.y, sm.x * kq_nib4(q1.z, sh) - sm.y, sm.x * kq_nib4(q1.w, sh) - sm.y);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let s = q4k_sub(row, e4 / 8u);
  let i = e4 % 8u;
  let sm = kq_scale_min(s.x, s.y);
  return sm.x * kq_nib4(w[s.z + i / 4u][i % 4u], 4u * (s.y & 1u)) - sm.y;
}
