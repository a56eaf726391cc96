// reduce_row for matvec_split_k.wgsl with the 'subgroups' feature (the source starts with `enable
// subgroups;`). SG is the adapter's smallest subgroup size: an xor shuffle with an offset below SG stays
// inside an aligned group of SG lanes, and such a group lies inside one subgroup whatever size the
// dispatch gets, given lanes numbered contiguously into subgroups (what Vulkan/Metal/D3D do for a 1-D
// workgroup). Rows of at most SG lanes need no barrier; wider rows add their SG-lane sums in workgroup
// memory (partial: [WG] f32). Every lane calls it; the sum is valid in the row's first lane.
const SG: u32 = {{SG}}u;

fn reduce_row(acc: f32, lane: u32) -> f32 {
  var v = acc;
  for (var o = min(LPR, SG) / 2u; o > 0u; o >>= 1u) { v += subgroupShuffleXor(v, o); }
  if (LPR <= SG) { return v; }
  if (lane % SG == 0u) { partial[lane / SG] = v; }
  workgroupBarrier();
  var total = 0.0;
  if (lane % LPR == 0u) {
    for (var j = 0u; j < LPR / SG; j++) { total += partial[lane / SG + j]; }
  }
  return total;
}
