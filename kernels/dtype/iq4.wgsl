// IQ4_NL and IQ4_XS (with kernels/dtype/iq4_nl.wgsl or iq4_xs.wgsl, which give chunk_scale): 4-bit
// indices into ggml's non-linear table kvalues_iq4nl. Repacked at upload (src/loaders/repack.ts): the 16
// qs bytes of each 32 weights contiguous in `w` ([rows][K/32] vec4<u32>; IQ4_XS's superblock is 8 of
// them), the scales apart in `w_scales`. Byte j of a run holds weight j (low nibble) and weight j + 16
// (high nibble); weight = chunk_scale * kvalues[q], as dequantize_row_iq4_nl / _iq4_xs. A chunk is one
// run of 32 weights, whose scale factors out.
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_scales: array<u32>;

const CH: u32 = 32u;
const XV: u32 = 8u;

const IQ4NL_VALUES = array<f32, 16>(-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0, 1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);

fn touch_scales() {}

// The table values of the four bytes of a word, indexed by the nibble from bit `sh` (0: low, 4: high).
fn iq4_kv4(word: u32, sh: u32) -> vec4<f32> {
  let i = (vec4<u32>(word) >> (vec4<u32>(0u, 8u, 16u, 24u) + sh)) & vec4<u32>(15u);
  return vec4<f32>(IQ4NL_VALUES[i.x], IQ4NL_VALUES[i.y], IQ4NL_VALUES[i.z], IQ4NL_VALUES[i.w]);
}

fn load_chunk(row: u32, c: u32) -> array<vec4<f32>, XV> {
  let q = w[row * (K / 32u) + c];
  return array<vec4<f32>, XV>(iq4_kv4(q.x, 0u), iq4_kv4(q.y, 0u), iq4_kv4(q.z, 0u), iq4_kv4(q.w, 0u),
                              iq4_kv4(q.x, 4u), iq4_kv4(q.y, 4u), iq4_kv4(q.z, 4u), iq4_kv4(q.w, 4u));
}

fn deq4(row: u32, e4: u32) -> vec4<f32> {
  let c = e4 / 8u;
  let i = e4 % 8u;
  return chunk_scale(row, c) * iq4_kv4(w[row * (K / 32u) + c][i % 4u], select(0u, 4u, i >= 4u));
}
