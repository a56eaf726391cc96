// Q5_1, repacked at upload (src/loaders/repack.ts): the 16 qs bytes of each block contiguous in `w`
// ([rows][K/32] vec4<u32>), and per block one vec2<u32> in `w_scales`: d | m (f16), qh.
// Quants as Q5_0 (q5_0.wgsl); weight = q * d + m, as dequantize_row_q5_1. A chunk is one block. The
// block's min does not factor out of a chunk as one scale, so load_chunk returns fully dequantised
// weights and chunk_scale is 1.0 (as the K-quants).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<vec2<u32>>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// The 5-bit quants of weights 4v..4v+3 of a block (v 0..7), see q5_0.wgsl.
fn q5_1_4(word: u32, qh: u32, v: u32) -> vec4<f32> {
  let lo = (vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + 4u * (v / 4u))) & vec4<u32>(15u);
  let hi = (vec4<u32>(qh) >> (vec4<u32>(0u, 1u, 2u, 3u) + 4u * v)) & vec4<u32>(1u);
  return vec4<f32>(lo | (hi << vec4<u32>(4u)));
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let b = row * (K / 32u) + c;
  let q = w[b];
  let s = w_scales[b];
  let dm = unpack2x16float(s.x);
  return array<vec4<f32>, XV>(
    dm.x * q5_1_4(q.x, s.y, 0u) + dm.y, dm.x * q5_1_4(q.y, s.y, 1u) + dm.y, dm.x * q5_1_4(q.z, s.y, 2u) + dm.y, dm.x * q5_1_4(q.w, s.y, 3u) + dm.y,
    dm.x * q5_1_4(q.x, s.y, 4u) + dm.y, dm.x * q5_1_4(q.y, s.y, 5u) + dm.y, dm.x * q5_1_4(q.z, s.y, 6u) + dm.y, dm.x * q5_1_4(q.w, s.y, 7u) + dm.y);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let b = row * (K / 32u) + e4 / 8u;
  let v = e4 % 8u;
  let s = w_scales[b];
  let dm = unpack2x16float(s.x);
  return dm.x * q5_1_4(w[b][v % 4u], s.y, v) + dm.y;
}
