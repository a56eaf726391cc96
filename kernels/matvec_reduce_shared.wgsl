// reduce_row for matvec_split_k.wgsl: the sum of the LPR lane sums of a row, as a tree in workgroup
// memory (partial: [WG] f32, declared by the kernel). Every lane calls it (it has barriers); the sum is
// valid in the row's first lane (lane % LPR == 0).
fn reduce_row(acc: f32, lane: u32) -> f32 {
  partial[lane] = acc;
  workgroupBarrier();
  let sub = lane % LPR;
  for (var s = LPR / 2u; s > 0u; s >>= 1u) {
    if (sub < s) { partial[lane] += partial[lane + s]; }
    workgroupBarrier();
  }
  return partial[lane];
}
