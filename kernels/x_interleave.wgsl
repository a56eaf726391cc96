// Where vec4 i of the staged input x lives in workgroup memory, shared by matvec_split_k.wgsl and
// matvec_experts.wgsl (appended to both). Quantized weights (a lane per 32-weight block reads 8
// consecutive vec4s of x) keep x block-interleaved: vec4 v of block c at v · (K / 32) + c, so the lanes of
// a warp, on neighbouring blocks, read neighbouring addresses instead of all hitting the same banks 128
// bytes apart. Only where x lives changes, not the sums. The including kernel declares K and X_INTERLEAVED.

fn xsh_index(i: u32) -> u32 {
  if (X_INTERLEAVED) { return (i % 8u) * (K / 32u) + i / 8u; }
  return i;
}
