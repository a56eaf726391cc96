// Q8_0, repacked at upload: the 32 int8 quants of each block contiguous in `w` ([rows][K/32] blocks of
// 2 x vec4<u32>), the f16 block scales apart in `w_scales` ([rows][K/32] halves, two per u32).
// Weight = q * d. A chunk is one block of 32 weights.
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

fn touch_scales() {}

fn block_scale(b: u32) -> f32 {
  let pair = unpack2x16float(w_scales[b >> 1u]);
  return select(pair.x, pair.y, (b & 1u) == 1u);
}

// Four signed bytes of one word as f32 (sign extension by shifts: cheaper than unpack4xI8 on lavapipe).
fn i8x4(word: u32) -> vec4<f32> {
  let v = bitcast<vec4<i32>>(vec4<u32>(word << 24u, word << 16u, word << 8u, word)) >> vec4<u32>(24u);
  return vec4<f32>(v);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let b = row * (K / 32u) + c;
  let q0 = w[2u * b];
  let q1 = w[2u * b + 1u];
  return array<vec4<f32>, XV>(i8x4(q0.x), i8x4(q0.y), i8x4(q0.z), i8x4(q0.w),
                              i8x4(q1.x), i8x4(q1.y), i8x4(q1.z), i8x4(q1.w));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return block_scale(row * (K / 32u) + c); }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let b = row * (K / 32u) + e4 / 8u;
  let q = w[2u * b + (e4 % 8u) / 4u];
  return i8x4(q[e4 % 4u]) * block_scale(b);
}
