// The sum of one f32 per lane over a workgroup, in one fixed order (a tree: lane l adds lane l + s for
// s = WG/2, WG/4, ..., 1), shared by the row norms (rmsnorm.wgsl, layernorm.wgsl, head_norm.wgsl) so that
// they reduce alike. The including kernel declares `override WG: u32` (a power of two) and calls it from
// every lane of the workgroup (it has barriers).

var<workgroup> partial: array<f32, WG>;

/** The sum of every lane's `v`; every lane gets it, and `partial` is free again when it returns. */
fn workgroup_sum(lane: u32, v: f32) -> f32 {
  partial[lane] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[lane] += partial[lane + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
