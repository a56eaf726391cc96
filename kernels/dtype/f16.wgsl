// Weights stored as IEEE f16, row-major [rows][K], read as u32 pairs and unpacked to f32 (no shader-f16
// needed). A chunk is 4 consecutive weights = one vec2<u32>; needs K % 4 == 0.
@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>; // unused for f16

const CH: u32 = 4u;
const XV: u32 = 1u;

fn touch_scales() { _ = w_scales[0]; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let p = w[row * (K / 4u) + e4];
  return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  return array<vec4<f32>, XV>(deq4(row, c));
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }
