// Q4_0, repacked at upload: the 16 quant bytes of each block contiguous in `w` ([rows][K/32] vec4<u32>),
// the f16 block scales apart in `w_scales`. Byte j of a block holds weight j (low nibble) and weight
// j + 16 (high nibble); weight = (nibble - 8) * d, as in ggml. A chunk is one block of 32 weights.
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

fn block_scale(b: u32) -> f32 {
  let pair = unpack2x16float(w_scales[b >> 1u]);
  return select(pair.x, pair.y, (b & 1u) == 1u);
}

fn lo4(word: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}

fn hi4(word: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let q = w[row * (K / 32u) + c];
  return array<vec4<f32>, XV>(lo4(q.x), lo4(q.y), lo4(q.z), lo4(q.w), hi4(q.x), hi4(q.y), hi4(q.z), hi4(q.w));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return block_scale(row * (K / 32u) + c); }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let b = row * (K / 32u) + e4 / 8u;
  let i = e4 % 8u;
  let word = w[b][i % 4u];
  return select(lo4(word), hi4(word), i >= 4u) * block_scale(b);
}
