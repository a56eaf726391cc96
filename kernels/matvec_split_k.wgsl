// y[colOffset + n] (+)= x · W[n]ᵀ (+ bias[n]) for ONE row x (decode): the real-GPU matrix-vector
// variant. A workgroup of WG lanes owns RPW = WG / LPR rows of W; the LPR lanes of a row stride over its
// chunks, so neighbouring lanes read neighbouring bytes (coalesced), and a tree reduction in workgroup
// memory finishes each dot product. x is staged once per workgroup in workgroup memory ({{STAGE_X}}):
// every lane reads its chunk of x there instead of through the cache. Staging can also compute the input
// from the previous op's output, which saves that op's dispatch in decode (MODE, staged x only):
// 0: x as it is; 1: rmsnorm(x) · norm_weight (the residual stream before a projection);
// 2: silu(gate) · up with x = [gate (K) | up (K)] (the FFN's down projection);
// 3: the attention output (the output projection): with step.n_splits > 1, x is merged here from the
//    split-attention partials [N_HEADS_C][splits][HD_C + 2] (what attention_combine.wgsl does, same
//    arithmetic), so the combine dispatch is skipped; with one split, attention wrote x itself;
// 4: gelu(gate) · up with x = [gate (K) | up (K)] (GeGLU's down projection; gelu_tanh.wgsl is appended to
//    every variant, since WGSL resolves names in branches a constant MODE leaves dead).
// (The software-adapter variant, matmul.wgsl with TT = 1, gives each lane whole rows instead: lavapipe
// runs a workgroup on one CPU thread and barriers cost it dearly.)
// The weight's dtype snippets (kernels/dtype/<dtype>.wgsl and <dtype>.dot.wgsl) are prepended, and one of
// the two reductions of a row's LPR lane sums: matvec_reduce_shared.wgsl (a tree in workgroup memory,
// log2(LPR) barriers) or matvec_reduce_subgroup.wgsl (shuffles, no barrier up to a subgroup's width).

override K: u32;
override N_CHUNK: u32;
override N_OFFSET: u32 = 0u;
override ACCUMULATE: u32 = 0u;
override HAS_BIAS: u32 = 0u;
// What (x · W + bias) is multiplied by before it is stored or accumulated (granite's residual and logit
// scales; 1 elsewhere, and v · 1 is v bit for bit).
override OUT_SCALE: f32 = 1.0;

const LPR: u32 = {{LPR}}u;
const WG: u32 = {{WG}}u;
const RPW: u32 = WG / LPR;
// MODE 1: lanes of the sum of squares (RMSNORM_LANES, rmsnorm.wgsl's workgroup; at most WG).
const RMS_LANES: u32 = {{RMS_LANES}}u;
const STAGE_X: bool = {{STAGE_X}};
// vec4s of x held in workgroup memory (1 when not staged).
const XS4: u32 = {{XS4}}u;
const MODE: u32 = {{MODE}}u;
// Quantized dtypes keep x block-interleaved in workgroup memory (x_interleave.wgsl, appended).
const X_INTERLEAVED: bool = {{X_INTERLEAVED}};
override EPS: f32 = 1e-6;
// MODE 3: heads and head size of the attention output (K = N_HEADS_C · HD_C).
override HD_C: u32 = 4u;
const N_HEADS_C: u32 = {{N_HEADS_C}}u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K/4] (row 0 of the batch)
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // row 0: [N]
@group(0) @binding(6) var<storage, read> norm_weight: array<vec4<f32>>; // [K/4] (MODE 1; else a dummy)
@group(0) @binding(7) var<storage, read> partials: array<f32>; // MODE 3: [N_HEADS_C][splits][HD_C + 2]; else a dummy

var<workgroup> partial: array<f32, WG>;
var<workgroup> xsh: array<vec4<f32>, XS4>;
// MODE 3: per head, the merged softmax max M and sum L over the splits.
var<workgroup> head_ml: array<vec2<f32>, N_HEADS_C>;

/** MODE 3, split attention: vec4 i of the merged attention output (h = 4i / HD_C, d = 4i % HD_C). */
fn combined4(i: u32, n_splits: u32) -> vec4<f32> {
  let h = (4u * i) / HD_C;
  let d = (4u * i) % HD_C;
  let ml = head_ml[h];
  var acc = vec4<f32>(0.0);
  for (var s = 0u; s < n_splits; s++) {
    let b = (h * n_splits + s) * (HD_C + 2u);
    if (partials[b + HD_C + 1u] > 0.0) {
      acc += vec4<f32>(partials[b + d], partials[b + d + 1u], partials[b + d + 2u], partials[b + d + 3u]) * exp(partials[b + HD_C] - ml.x);
    }
  }
  return acc / ml.y;
}

fn x4(i: u32) -> vec4<f32> {
  if (STAGE_X) { return xsh[xsh_index(i)]; }
  return x[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  touch_scales();
  _ = step.n_tokens;
  let n0 = (wid.x + wid.y * nwg.x) * RPW;
  if (n0 >= N_CHUNK) { return; }
  let n_splits = step.n_splits;
  if (STAGE_X) {
    if (MODE == 3u && n_splits > 1u) {
      for (var h = lane; h < N_HEADS_C; h += WG) {
        var m = -3.0e38;
        var l = 0.0;
        for (var s = 0u; s < n_splits; s++) {
          let b = (h * n_splits + s) * (HD_C + 2u);
          if (partials[b + HD_C + 1u] > 0.0) { m = max(m, partials[b + HD_C]); }
        }
        for (var s = 0u; s < n_splits; s++) {
          let b = (h * n_splits + s) * (HD_C + 2u);
          let ls = partials[b + HD_C + 1u];
          if (ls > 0.0) { l += ls * exp(partials[b + HD_C] - m); }
        }
        head_ml[h] = vec2<f32>(m, l);
      }
      workgroupBarrier();
    }
    for (var i = lane; i < K / 4u; i += WG) {
      var v = x[i];
      if (MODE == 2u) {
        let u = x[K / 4u + i];
        v = v / (vec4<f32>(1.0) + exp(-v)) * u;
      }
      if (MODE == 4u) {
        let u = x[K / 4u + i];
        v = vec4<f32>(gelu_tanh(v.x), gelu_tanh(v.y), gelu_tanh(v.z), gelu_tanh(v.w)) * u;
      }
      if (MODE == 3u && n_splits > 1u) { v = combined4(i, n_splits); }
      xsh[xsh_index(i)] = v;
    }
    if (MODE == 1u) {
      // The sum of squares in rmsnorm.wgsl's order (RMS_LANES lanes over vec4s, then a tree), so the
      // normalised row has the bits a batch's rmsnorm gives it.
      workgroupBarrier();
      var ss = 0.0;
      if (lane < RMS_LANES) {
        for (var i = lane; i < K / 4u; i += RMS_LANES) {
          let v = xsh[xsh_index(i)];
          ss += dot(v, v);
        }
      }
      partial[lane] = ss;
      workgroupBarrier();
      for (var s = RMS_LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) { partial[lane] += partial[lane + s]; }
        workgroupBarrier();
      }
      let scale = 1.0 / sqrt(partial[0] / f32(K) + EPS);
      workgroupBarrier();
      for (var i = lane; i < K / 4u; i += WG) { xsh[xsh_index(i)] = xsh[xsh_index(i)] * scale * norm_weight[i]; }
    } else {
      _ = norm_weight[0];
    }
    _ = partials[0];
    workgroupBarrier();
  }
  let group = lane / LPR;
  let sub = lane % LPR;
  let n = min(n0 + group, N_CHUNK - 1u);

  var acc = 0.0;
  let n_chunks = K / CH;
  for (var c = sub; c < n_chunks; c += LPR) {
    acc += dot_chunk_x(n, c);
  }
  // The row's LPR partial sums, added up (matvec_reduce_{shared,subgroup}.wgsl): valid in its lane sub = 0.
  let total = reduce_row(acc, lane);
  if (sub == 0u && n0 + group < N_CHUNK) {
    var v = total;
    if (HAS_BIAS == 1u) { v += bias[N_OFFSET + n]; }
    let yi = N_OFFSET + n;
    v *= OUT_SCALE;
    if (ACCUMULATE == 1u) { v += y[yi]; }
    y[yi] = v;
  }
}
