// Weights stored as f32, row-major [rows][K]. A chunk is 4 consecutive weights of a row.
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>; // unused for f32 (bound to a dummy)

const CH: u32 = 4u;
const XV: u32 = 1u;

fn touch_scales() { _ = w_scales[0]; }

// Chunk c of row `row`, before its scale.
fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  return array<vec4<f32>, XV>(w[row * (K / 4u) + c]);
}

fn chunk_scale(row: u32, c: u32) -> f32 { return 1.0; }

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  return w[row * (K / 4u) + e4];
}
