// Q4_1, repacked at upload (src/loaders/repack.ts): the 16 quant bytes of each block contiguous in `w`
// ([rows][K/32] vec4<u32>), and per block one u32 in `w_scales`: d | m (f16). Nibbles as Q4_0 (byte j:
// weight j low, weight j + 16 high); weight = q * d + m, as dequantize_row_q4_1. A chunk is one block.
// The block's min does not factor out of a chunk as one scale, so load_chunk returns fully dequantised
// weights and chunk_scale is 1.0 (as Q5_1).
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// The quants of weights 4v..4v+3 of a block (v 0..7): the low nibbles of `word` for v < 4, else the high.
fn q4_1_4(word: u32, v: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + 4u * (v / 4u))) & vec4<u32>(15u));
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let b = row * (K / 32u) + c;
  let q = w[b];
  let dm = unpack2x16float(w_scales[b]);
  return array<vec4<f32>, XV>(
    dm.x * q4_1_4(q.x, 0u) + dm.y, dm.x * q4_1_4(q.y, 1u) + dm.y, dm.x * q4_1_4(q.z, 2u) + dm.y, dm.x * q4_1_4(q.w, 3u) + dm.y,
    dm.x * q4_1_4(q.x, 4u) + dm.y, dm.x * q4_1_4(q.y, 5u) + dm.y, dm.x * q4_1_4(q.z, 6u) + dm.y, dm.x * q4_1_4(q.w, 7u) + dm.y);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let b = row * (K / 32u) + e4 / 8u;
  let v = e4 % 8u;
  let dm = unpack2x16float(w_scales[b]);
  return dm.x * q4_1_4(w[b][v % 4u], v) + dm.y;
}
