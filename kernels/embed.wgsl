// x[t][:] = dequantised row tokens[t] of the token embedding · SCALE, for the tokens whose row lies in this
// chunk of the embedding (a large vocabulary is split by rows; one dispatch per chunk). SCALE is sqrt(d)
// for Gemma, whose graph scales its input embeddings, else 1 (x · 1 is x, bit for bit).
// POSITIONS = 1: x[t][:] += row step.pos0 + t of a learned position embedding (starcoder), after the token
// rows are in x; f32 addition as llama.cpp's ggml_add(tok, pos).
// The dtype snippet is prepended.

override K: u32;          // embedding width
override ROW_BASE: u32;   // first row of this chunk
override ROW_COUNT: u32;  // rows in this chunk
override WG: u32 = 64u;
override SCALE: f32 = 1.0;
override POSITIONS: u32 = 0u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;         // [T]
@group(0) @binding(5) var<storage, read_write> x: array<vec4<f32>>;  // [T][K/4]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  touch_scales();
  let e4 = gid.x;
  let t = gid.y;
  if (t >= step.n_tokens || e4 >= K / 4u) { return; }
  var row = tokens[t];
  if (POSITIONS == 1u) { row = step.pos0 + t; }
  if (row < ROW_BASE || row >= ROW_BASE + ROW_COUNT) { return; }
  let v = deq4(row - ROW_BASE, e4) * SCALE;
  let i = t * (K / 4u) + e4;
  if (POSITIONS == 1u) { x[i] = x[i] + v; } else { x[i] = v; }
}
