// Rotary position embedding for the batch's queries and keys, and the write of K and V into the paged
// cache. qkv[t] = [q heads (N_HEADS x HD) | k heads (N_KV x HD) | v heads (N_KV x HD)]; token t sits at
// position p = pos0 + t, in cache block block_table[p / BLOCK], slot p % BLOCK.
// Cache layout per layer: [block][kv head][slot in block][HD] of kv_t: f32, or f16 converted from the f32
// result (WGSL gives one of the two f16 values around it: within 2^-10 relative; |x| must stay <= 65504).
// The f16 variant's module starts with `enable f16;` (src/ops/attention.ts).
// One lane per (token, head, pair); the pairing and the rotation are rope_pair.wgsl's (appended). cos/sin
// come from a table built on the CPU in f64: [position][N_ROT/2] of (cos, sin).

override HD: u32;
override N_HEADS: u32;
override N_KV: u32;
override N_ROT: u32;
override NEOX: u32;
override BLOCK: u32;
override WG: u32 = 64u;

alias kv_t = {{KV}};

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;        // [T][(N_HEADS + 2 N_KV) HD]
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;        // [positions][N_ROT/2]
@group(0) @binding(3) var<storage, read> block_table: array<u32>;       // [blocks of the sequence]
@group(0) @binding(4) var<storage, read_write> k_cache: array<kv_t>;    // [blocks][N_KV][BLOCK][HD]
@group(0) @binding(5) var<storage, read_write> v_cache: array<kv_t>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = HD / 2u;
  let n_heads_all = N_HEADS + 2u * N_KV;
  let t = gid.y;
  let head = gid.x / half;
  let i = gid.x % half;
  if (t >= step.n_tokens || head >= n_heads_all) { return; }
  let p = step.pos0 + t;
  let row = t * n_heads_all * HD + head * HD;

  let dims = rope_dims(i);
  let a = dims.x;
  let b = dims.y;
  var v = vec2<f32>(qkv[row + a], qkv[row + b]);
  if (i < N_ROT / 2u && head < N_HEADS + N_KV) { v = rope_rotate(v, rope[p * (N_ROT / 2u) + i]); }
  let va = v.x;
  let vb = v.y;
  if (head < N_HEADS) {
    qkv[row + a] = va;
    qkv[row + b] = vb;
    return;
  }
  let slot = block_table[p / BLOCK] * BLOCK + p % BLOCK;
  if (head < N_HEADS + N_KV) {
    let base = ((slot / BLOCK) * N_KV + (head - N_HEADS)) * BLOCK * HD + (slot % BLOCK) * HD;
    k_cache[base + a] = kv_t(va);
    k_cache[base + b] = kv_t(vb);
  } else {
    let base = ((slot / BLOCK) * N_KV + (head - N_HEADS - N_KV)) * BLOCK * HD + (slot % BLOCK) * HD;
    v_cache[base + a] = kv_t(va);
    v_cache[base + b] = kv_t(vb);
  }
}
