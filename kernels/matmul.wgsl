// Y[m][n] (+)= X[m][K] · W[n][K]ᵀ (+ bias[n]) over the rows n of one weight chunk (weights larger than
// maxStorageBufferBindingSize are split by rows; N_OFFSET places this chunk in the output row).
// One lane computes R output columns for TT tokens: a chunk of W is dequantised once and used TT times.
// Decode uses TT = 1 (a matrix-vector product); prefill and verification use TT > 1.
// The weight's dtype snippet (kernels/dtype/*.wgsl) is prepended: w, w_scales, CH, XV, load_chunk, chunk_scale.

override K: u32;
override N_CHUNK: u32;
override N_OFFSET: u32 = 0u;
override Y_STRIDE: u32;
// 1: the batch's rows are the logit rows (after the final norm picked them), not every token.
override ROWS_FROM_LOGITS: u32 = 0u;
// 1: y += result (the residual stream), 0: y = result.
override ACCUMULATE: u32 = 0u;
override HAS_BIAS: u32 = 0u;
// What (x · W + bias) is multiplied by before it is stored or accumulated (granite's residual and logit
// scales; 1 elsewhere, and v · 1 is v bit for bit).
override OUT_SCALE: f32 = 1.0;
override WG: u32 = 64u;

const R: u32 = {{R}}u;
const TT: u32 = {{TT}}u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [m][K/4]
@group(0) @binding(4) var<storage, read> bias: array<f32>;     // [N], or a dummy
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // [m][Y_STRIDE]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  touch_scales();
  let m_rows = select(step.n_tokens, step.n_logit_rows, ROWS_FROM_LOGITS == 1u);
  let n0 = gid.x * R;
  let t0 = gid.y * TT;
  if (n0 >= N_CHUNK || t0 >= m_rows) { return; }

  var acc: array<array<f32, TT>, R>;
  let n_chunks = K / CH;
  for (var c = 0u; c < n_chunks; c++) {
    var xs: array<array<vec4<f32>, XV>, TT>;
    for (var t = 0u; t < TT; t++) {
      let row = min(t0 + t, m_rows - 1u);
      for (var v = 0u; v < XV; v++) {
        xs[t][v] = x[row * (K / 4u) + c * XV + v];
      }
    }
    for (var r = 0u; r < R; r++) {
      let n = min(n0 + r, N_CHUNK - 1u);
      let wc = load_chunk(n, c);
      let scale = chunk_scale(n, c);
      for (var t = 0u; t < TT; t++) {
        var s = 0.0;
        for (var v = 0u; v < XV; v++) {
          s += dot(wc[v], xs[t][v]);
        }
        acc[r][t] += s * scale;
      }
    }
  }

  for (var r = 0u; r < R; r++) {
    let n = n0 + r;
    if (n >= N_CHUNK) { break; }
    for (var t = 0u; t < TT; t++) {
      let row = t0 + t;
      if (row >= m_rows) { break; }
      var v = acc[r][t];
      if (HAS_BIAS == 1u) { v += bias[N_OFFSET + n]; }
      let yi = row * Y_STRIDE + N_OFFSET + n;
      v *= OUT_SCALE;
      if (ACCUMULATE == 1u) { v += y[yi]; }
      y[yi] = v;
    }
  }
}
