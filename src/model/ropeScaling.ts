// Rope scaling: how a model fine-tuned for a longer context than its base turns positions into angles,
// as llama.cpp reads it from GGUF metadata and applies it (llama-model.cpp, llama-context.cpp, ggml's
// rope_yarn). Without it such a model runs, and is wrong at every position:
//  - 'linear' (DeepSeek-Coder's factor 4): every angle times 1/factor (position interpolation);
//  - 'yarn' (Qwen2.5's long-context configs): high frequencies kept, low ones interpolated, a ramp between,
//    and cos/sin (so queries and keys) scaled by 1 + 0.1 ln(factor);
//  - Llama 3.x: per-frequency divisors in a `rope_freqs.weight` tensor (weights.ts reads it), on top of any of these.

import { ModelFormatError, UnsupportedModelError } from '../common/errors';
import { archKey, metaF32, metaString, metaU32, type GgufMetadata } from '../loaders/gguf/metadata';

export type RopeScalingType = 'none' | 'linear' | 'yarn';

export interface RopeScaling {
  type: RopeScalingType;
  /** rope.scaling.factor (or the older rope.scale_linear); 1 = unscaled. Ignored for 'none'. */
  factor: number;
  /** YaRN: the context the base model was trained for (rope.scaling.original_context_length, else context_length). */
  originalContext: number;
  /** rope.scaling.attn_factor: multiplies cos and sin. */
  attnFactor: number;
}

/**
 * Which frequencies YaRN keeps (beta_fast rotations over the original context) and which it interpolates
 * (beta_slow): llama.cpp's defaults. Its llama, qwen2, qwen3 and starcoder2 loaders do not read the rope.scaling.yarn_* keys
 * a converter may write (nor the ext and attn factors there), so neither do we.
 */
const YARN_BETA_FAST = 32;
const YARN_BETA_SLOW = 1;

export function ropeScalingFromMetadata(meta: GgufMetadata, archName: string, contextLength: number, file?: string): RopeScaling {
  const k = (s: string) => archKey(archName, s);
  // llama.cpp's default type is 'linear': a factor with no type still scales.
  const type = metaString(meta, k('rope.scaling.type'), { default: 'linear', file });
  if (type !== 'none' && type !== 'linear' && type !== 'yarn') {
    throw new UnsupportedModelError(`rope scaling '${type}' (supported: none, linear, yarn)`);
  }
  const factorKey = meta.has(k('rope.scaling.factor')) ? k('rope.scaling.factor') : k('rope.scale_linear');
  const rawFactor = metaF32(meta, factorKey, { default: 0, file });
  // 0 means unset, as in llama.cpp.
  const factor = rawFactor === 0 ? 1 : rawFactor;
  if (!Number.isFinite(factor) || factor < 0) throw new ModelFormatError(factorKey, `${rawFactor} is not a scaling factor`, file);
  const attnFactor = metaF32(meta, k('rope.scaling.attn_factor'), { default: 1, file });
  if (!Number.isFinite(attnFactor) || attnFactor <= 0) throw new ModelFormatError(k('rope.scaling.attn_factor'), `${attnFactor} is not a positive number`, file);
  const originalContext = metaU32(meta, k('rope.scaling.original_context_length'), { default: contextLength, file }) || contextLength;
  return { type, factor: type === 'none' ? 1 : factor, originalContext, attnFactor };
}

export const NO_ROPE_SCALING: RopeScaling = { type: 'none', factor: 1, originalContext: 0, attnFactor: 1 };

/** True when the scaling changes nothing (the angles are pos * theta^(-2i/nRot)). */
export function isUnscaled(s: RopeScaling): boolean {
  return s.factor === 1 && s.attnFactor === 1;
}

/** For the CLI: 'linear x4', 'yarn x4 from 32768', or 'none'. */
export function describeRopeScaling(s: RopeScaling, freqFactors = false): string {
  // Metadata floats are f32: 0.9 is stored as 0.899999976...
  const f = (x: number) => String(Number(x.toPrecision(6)));
  const parts = isUnscaled(s) ? [] : [`${s.type} x${f(s.factor)}${s.type === 'yarn' ? ` from ${s.originalContext}` : ''}${s.attnFactor !== 1 ? `, attn x${f(s.attnFactor)}` : ''}`];
  if (freqFactors) parts.push('per-frequency factors (rope_freqs)');
  return parts.join(', ') || 'none';
}

/**
 * The angle of rotary pair i at position p is p * rate[i]; cos and sin are multiplied by `magnitude`.
 * rate[i] = theta^(-2i/nRot) / freqFactors[i], then scaled as the type says (ggml's rope_yarn, in f64).
 */
export function ropeRates(nRot: number, theta: number, s: RopeScaling, freqFactors?: Float32Array): { rate: Float64Array; magnitude: number } {
  const half = nRot / 2;
  const rate = new Float64Array(half);
  const freqScale = 1 / s.factor;
  let magnitude = s.attnFactor;
  let low = 0;
  let high = 0;
  if (s.type === 'yarn') {
    // The pair index where a frequency makes `rotations` turns over the original context.
    const dimOf = (rotations: number) => (nRot * Math.log(s.originalContext / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    low = Math.max(0, Math.floor(dimOf(YARN_BETA_FAST)));
    high = Math.min(nRot - 1, Math.ceil(dimOf(YARN_BETA_SLOW)));
    // llama.cpp sets attn_factor to 1 + 0.1 ln(factor), divides it back out, and rope_yarn multiplies it in.
    if (s.factor > 1) magnitude *= 1 + 0.1 * Math.log(s.factor);
  }
  for (let i = 0; i < half; i++) {
    const extrapolated = Math.pow(theta, (-2 * i) / nRot) / (freqFactors ? freqFactors[i] : 1);
    if (s.type === 'yarn') {
      // 1 below `low` (high frequencies: kept), 0 above `high` (low frequencies: interpolated).
      const mix = 1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
      rate[i] = extrapolated * (freqScale * (1 - mix) + mix);
    } else {
      rate[i] = extrapolated * freqScale;
    }
  }
  return { rate, magnitude };
}
