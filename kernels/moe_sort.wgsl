// ExpertOrder 'sorted' (ops/experts.ts): the batch's P = T · K_USED (token, slot) pairs listed expert by
// expert, each expert's in pair order (a counting sort by one invocation: P and N_EXPERT are at most a few
// thousand), so that the expert matvecs (matvec_experts.wgsl, ORDERED) run one expert's pairs together
// and its rows come from memory about once a pass, as llama.cpp's mul_mat_id groups them.

override N_EXPERT: u32;
override K_USED: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> routes: array<u32>;          // [P][id, bitcast(w)]
@group(0) @binding(2) var<storage, read_write> order: array<u32>;     // [P]

// Pairs per expert, then each expert's next place in `order` (MAX_EXPERTS = 512).
var<private> cursor: array<u32, 512>;

@compute @workgroup_size(1)
fn main() {
  let P = step.n_tokens * K_USED;
  for (var e = 0u; e < N_EXPERT; e++) { cursor[e] = 0u; }
  for (var z = 0u; z < P; z++) { cursor[routes[2u * z]] += 1u; }
  var at = 0u;
  for (var e = 0u; e < N_EXPERT; e++) {
    let c = cursor[e];
    cursor[e] = at;
    at += c;
  }
  for (var z = 0u; z < P; z++) {
    let e = routes[2u * z];
    order[cursor[e]] = z;
    cursor[e] += 1u;
  }
}
