// Plain CPU references for the kernels, in f64, written for clarity rather than speed: the kernel tests
// compare the GPU against these on random shapes. Layouts are the kernels' (row-major, [rows][cols]).

// ---------------------------------------------------------------------------------------------------
// Matmul: y[m][colOffset + n] (+)= (Σ_k x[m][k] w[n][k] (+ bias[colOffset + n])) · outScale

export interface MatmulRefArgs {
  /** [m][K]. */
  x: ArrayLike<number>;
  /** [N][K], dequantised. */
  w: ArrayLike<number>;
  m: number;
  N: number;
  K: number;
  /** Indexed by output column (colOffset + n), as the kernel's bias spans the full output width. */
  bias?: ArrayLike<number>;
  /** [m][yStride]: the output before the op (kept outside [colOffset, colOffset + N), added to when accumulate). */
  yInit: ArrayLike<number>;
  yStride: number;
  colOffset?: number;
  accumulate?: boolean;
  /** The kernel's OUT_SCALE (default 1). */
  outScale?: number;
}

/** Returns y after the op, and per element Σ|x w| + |bias| + |y| (the f32 rounding scale). */
export function matmulRef(a: MatmulRefArgs): { y: Float64Array; scale: Float64Array } {
  const off = a.colOffset ?? 0;
  const y = Float64Array.from(a.yInit);
  const scale = new Float64Array(y.length).fill(1e-30);
  for (let i = 0; i < a.m; i++) {
    for (let n = 0; n < a.N; n++) {
      let s = 0;
      let abs = 0;
      for (let k = 0; k < a.K; k++) {
        const p = a.x[i * a.K + k] * a.w[n * a.K + k];
        s += p;
        abs += Math.abs(p);
      }
      const yi = i * a.yStride + off + n;
      if (a.bias) {
        s += a.bias[off + n];
        abs += Math.abs(a.bias[off + n]);
      }
      const outScale = a.outScale ?? 1;
      s *= outScale;
      abs *= Math.abs(outScale);
      if (a.accumulate) {
        abs += Math.abs(y[yi]);
        s += y[yi];
      }
      y[yi] = s;
      scale[yi] = abs;
    }
  }
  return { y, scale };
}

// ---------------------------------------------------------------------------------------------------
// Element-wise and row ops

/** y[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight, for rows [rowStart, rowStart + rows). */
export function rmsnormRef(x: ArrayLike<number>, K: number, rowStart: number, rows: number, weight: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const src = (rowStart + r) * K;
    let ss = 0;
    for (let i = 0; i < K; i++) ss += x[src + i] * x[src + i];
    const scale = 1 / Math.sqrt(ss / K + eps);
    for (let i = 0; i < K; i++) y[r * K + i] = x[src + i] * scale * weight[i];
  }
  return y;
}

/** m[t][i] = silu(gu[t][i]) * gu[t][F + i]. */
export function siluMulRef(gu: ArrayLike<number>, T: number, F: number): Float64Array {
  const m = new Float64Array(T * F);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < F; i++) {
      const g = gu[t * 2 * F + i];
      m[t * F + i] = (g / (1 + Math.exp(-g))) * gu[t * 2 * F + F + i];
    }
  }
  return m;
}

/** First index of the largest value of each row (NaN never wins; an all-NaN row gives 0), like numpy. */
export function argmaxRef(logits: ArrayLike<number>, rows: number, V: number): Uint32Array {
  const ids = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1;
    for (let i = 0; i < V; i++) {
      const v = logits[r * V + i];
      if (Number.isNaN(v)) continue;
      if (best < 0 || v > logits[r * V + best]) best = i;
    }
    ids[r] = Math.max(best, 0);
  }
  return ids;
}

/** x[t] = table[tokens[t]] for a [V][K] table. */
export function embedRef(table: ArrayLike<number>, K: number, tokens: ArrayLike<number>): Float32Array {
  const x = new Float32Array(tokens.length * K);
  for (let t = 0; t < tokens.length; t++) {
    for (let i = 0; i < K; i++) x[t * K + i] = table[tokens[t] * K + i];
  }
  return x;
}

// ---------------------------------------------------------------------------------------------------
// Rotary position embedding

/**
 * Rotates one head vector at position `pos` (angles pos * theta^(-2i/nRot) in f64). Normal (GPT-J)
 * style pairs (2i, 2i+1); NeoX pairs (i, i + nRot/2). Dimensions from nRot on pass through.
 */
export function ropeRef(v: ArrayLike<number>, pos: number, nRot: number, neox: boolean, theta: number): Float64Array {
  const out = Float64Array.from(v);
  const half = nRot / 2;
  for (let i = 0; i < half; i++) {
    const angle = pos * Math.pow(theta, (-2 * i) / nRot);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const a = neox ? i : 2 * i;
    const b = neox ? i + half : 2 * i + 1;
    out[a] = v[a] * c - v[b] * s;
    out[b] = v[a] * s + v[b] * c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Attention

export interface AttentionRefArgs {
  /** [T][nHeads][hd], already rotated. */
  q: ArrayLike<number>;
  /** [positions][nKv][hd], contiguous by position (positions >= pos0 + T), k already rotated. */
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  T: number;
  pos0: number;
  nHeads: number;
  nKv: number;
  hd: number;
  /** 0: full causal; W > 0: query at p sees keys p - W < j <= p (llama.cpp's standard SWA). */
  window: number;
  /** ALiBi: head h's score on key j gets -slopes[h] (p - j) after the scale. */
  alibiSlopes?: ArrayLike<number>;
}

/** Causal softmax(q kᵀ / sqrt(hd) (- ALiBi's bias)) v per query head; head h reads kv head h / (nHeads / nKv). Out [T][nHeads][hd]. */
export function attentionRef(a: AttentionRefArgs): Float64Array {
  const { T, pos0, nHeads, nKv, hd } = a;
  const out = new Float64Array(T * nHeads * hd);
  const group = nHeads / nKv;
  const scale = 1 / Math.sqrt(hd);
  for (let t = 0; t < T; t++) {
    const p = pos0 + t;
    const lo = a.window > 0 ? Math.max(0, p - a.window + 1) : 0;
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      const scores: number[] = [];
      for (let j = lo; j <= p; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += a.q[(t * nHeads + h) * hd + d] * a.k[(j * nKv + g) * hd + d];
        scores.push(s * scale - (a.alibiSlopes ? a.alibiSlopes[h] * (p - j) : 0));
      }
      const mx = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - mx));
      const sum = e.reduce((x, y) => x + y, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let j = lo; j <= p; j++) acc += e[j - lo] * a.v[(j * nKv + g) * hd + d];
        out[(t * nHeads + h) * hd + d] = acc / sum;
      }
    }
  }
  return out;
}

/** Element index of (position p, kv head g, dim d) in a paged cache [block][nKv][BLOCK][hd]. */
export function pagedIndex(blockTable: ArrayLike<number>, block: number, nKv: number, hd: number, p: number, g: number, d: number): number {
  const b = blockTable[Math.floor(p / block)];
  return ((b * nKv + g) * block + (p % block)) * hd + d;
}
