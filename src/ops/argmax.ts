// out[r] = (argmax of logit row r, its softmax probability), on the GPU: greedy decoding reads back 8 bytes
// a row, not a vocabulary row, and still knows how sure the model was of each token.

import { encodeDispatch, type Dispatch, type OpContext } from './context';
import argmaxWgsl from '../../kernels/argmax.wgsl';

/** Bytes per row of the op's output: [id: u32, p: f32]. */
export const ARGMAX_ROW_BYTES = 8;

export class ArgmaxOp {
  private readonly dispatch: Dispatch;

  /** `out`: [rows][2] u32, id and the bits of p (f32); at least rows × ARGMAX_ROW_BYTES bytes. */
  constructor(ctx: OpContext, vocabSize: number, logits: GPUBuffer, out: GPUBuffer) {
    // A GPU wants many lanes on the one row (151,936 logits); lavapipe runs a workgroup on one thread.
    const lanes = !ctx.gpu.adapter.isSoftware && ctx.gpu.limits.maxComputeInvocationsPerWorkgroup >= 1024 ? 1024 : 256;
    const pipeline = ctx.pipeline('argmax', 'f32', argmaxWgsl, { V: vocabSize, WG: lanes });
    this.dispatch = { pipeline, bindGroup: ctx.bindGroup(pipeline, { 0: ctx.step, 1: logits, 5: out }, 'argmax') };
  }

  encode(pass: GPUComputePassEncoder, nRows: number): void {
    encodeDispatch(pass, this.dispatch, nRows);
  }
}

/** Splits the op's output ([rows][id, p bits]) into ids and probabilities. */
export function splitArgmaxRows(bytes: ArrayBufferLike, rows: number): { ids: Uint32Array; probs: Float32Array } {
  const u = new Uint32Array(bytes, 0, 2 * rows);
  const f = new Float32Array(bytes, 0, 2 * rows);
  const ids = new Uint32Array(rows);
  const probs = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    ids[r] = u[2 * r];
    probs[r] = f[2 * r + 1];
  }
  return { ids, probs };
}
