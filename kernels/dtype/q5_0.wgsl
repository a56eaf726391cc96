// Q5_0, repacked at upload (src/loaders/repack.ts): the 16 qs bytes of each block contiguous in `w`
// ([rows][K/32] vec4<u32>), and per block one vec2<u32> in `w_scales`: d (f16, high half 0), qh.
// Byte j of qs holds the low 4 bits of weight j (low nibble) and weight j + 16 (high nibble); bit j of
// qh is the fifth bit of weight j; weight = (q - 16) * d, as dequantize_row_q5_0. A chunk is one block.
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<vec2<u32>>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

// Weights 4v..4v+3 of a block (v 0..7) minus 16: nibbles from bit 4(v / 4) of the bytes of qs word
// v % 4, fifth bits from bits 4v..4v+3 of qh.
fn q5_0_4(word: u32, qh: u32, v: u32) -> vec4<f32> {
  let lo = (vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + 4u * (v / 4u))) & vec4<u32>(15u);
  let hi = (vec4<u32>(qh) >> (vec4<u32>(0u, 1u, 2u, 3u) + 4u * v)) & vec4<u32>(1u);
  return vec4<f32>(lo | (hi << vec4<u32>(4u))) - vec4<f32>(16.0);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let b = row * (K / 32u) + c;
  let q = w[b];
  let qh = w_scales[b].y;
  return array<vec4<f32>, XV>(q5_0_4(q.x, qh, 0u), q5_0_4(q.y, qh, 1u), q5_0_4(q.z, qh, 2u), q5_0_4(q.w, qh, 3u),
                              q5_0_4(q.x, qh, 4u), q5_0_4(q.y, qh, 5u), q5_0_4(q.z, qh, 6u), q5_0_4(q.w, qh, 7u));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return unpack2x16float(w_scales[row * (K / 32u) + c].x).x; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let b = row * (K / 32u) + e4 / 8u;
  let v = e4 % 8u;
  let s = w_scales[b];
  return q5_0_4(w[b][v % 4u], s.y, v) * unpack2x16float(s.x).x;
}
