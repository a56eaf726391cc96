// Streaming kernels that measure the device's memory bandwidth (the roofline for decode, which reads
// every weight once per token). MODE 0, copy: dst[i] = src[i] (each byte read once and written once).
// MODE 1, read: each lane sums its own contiguous run of src and writes one value (reads only).

override MODE: u32 = 0u;
override WG: u32 = 64u;
// vec4 elements per lane in MODE 1.
override RUN: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lane = gid.x + gid.y * nwg.x * WG;
  let n = arrayLength(&src);
  if (MODE == 0u) {
    if (lane < n) { dst[lane] = src[lane]; }
    return;
  }
  var s = vec4<f32>(0.0);
  let start = lane * RUN;
  if (start >= n) { return; }
  let end = min(start + RUN, n);
  for (var i = start; i < end; i++) { s += src[i]; }
  dst[lane] = s;
}
