// Streaming kernels that measure the device's memory bandwidth (the roofline for decode, which reads
// every weight once per token). Two access patterns, because the best one differs by adapter:
// STRIDED = 1: lane i touches i, i + lanes, i + 2 lanes, ... (coalesced: best on real GPUs), UNROLL
//   independent loads in flight per iteration (the dispatch makes the length a multiple of UNROLL x lanes);
// STRIDED = 0: each lane owns a contiguous run of RUN vec4s (best on CPU-emulated adapters like lavapipe).
// COPY = 1: dst = src (bytes read + written); COPY = 0: each lane sums what it reads and writes one vec4.

override COPY: u32 = 1u;
override STRIDED: u32 = 1u;
override WG: u32 = 64u;
override RUN: u32 = 64u;
override UNROLL: u32 = 1u;

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lanes = nwg.x * nwg.y * WG;
  let lane = gid.x + gid.y * nwg.x * WG;
  let n = arrayLength(&src);
  var s = vec4<f32>(0.0);
  if (STRIDED == 1u && UNROLL == 4u) {
    for (var i = lane; i + 3u * lanes < n; i += 4u * lanes) {
      let a = src[i];
      let b = src[i + lanes];
      let c = src[i + 2u * lanes];
      let d = src[i + 3u * lanes];
      if (COPY == 1u) {
        dst[i] = a; dst[i + lanes] = b; dst[i + 2u * lanes] = c; dst[i + 3u * lanes] = d;
      } else {
        s += (a + b) + (c + d);
      }
    }
  } else if (STRIDED == 1u) {
    for (var i = lane; i < n; i += lanes) {
      if (COPY == 1u) { dst[i] = src[i]; } else { s += src[i]; }
    }
  } else {
    let start = lane * RUN;
    let end = min(start + RUN, n);
    for (var i = start; i < end; i++) {
      if (COPY == 1u) { dst[i] = src[i]; } else { s += src[i]; }
    }
  }
  if (COPY == 0u && lane < arrayLength(&dst)) { dst[lane] = s; }
}
