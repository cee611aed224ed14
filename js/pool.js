// Pure array work the browser does on a slice it holds in full: max-pooled
// windows, each query's strongest links, one token's row or column.
// The kernel does the same (attn_widget/tiles.py) for slices it keeps.

/**
 * Max-pool the window [q0, q1) × [k0, k1) of a row-major q × k matrix by (fq, fk).
 * @param {Float32Array} values
 * @param {number} k row length of `values`
 * @param {{q0: number, q1: number, k0: number, k1: number}} w
 * @param {number} fq
 * @param {number} fk
 * @returns {{values: Float32Array, rows: number, cols: number}}
 */
export function maxPoolWindow(values, k, w, fq, fk) {
  const rows = Math.ceil((w.q1 - w.q0) / fq);
  const cols = Math.ceil((w.k1 - w.k0) / fk);
  const out = new Float32Array(rows * cols);
  for (let q = w.q0; q < w.q1; q++) {
    const r = Math.floor((q - w.q0) / fq) * cols;
    const base = q * k;
    for (let c = w.k0; c < w.k1; c++) {
      const v = values[base + c];
      const o = r + Math.floor((c - w.k0) / fk);
      if (v > out[o]) out[o] = v;
    }
  }
  return { values: out, rows, cols };
}

/** Pool factor so that `extent` cells fit in `pixels`. */
export function poolFactor(extent, pixels) {
  return Math.max(1, Math.ceil(extent / Math.max(1, pixels)));
}

/**
 * Each query row's `top` strongest keys (ties to the lower index), rows [q0, q1).
 * @param {Float32Array} values row-major, rows of length k
 * @returns {{order: Int32Array, weights: Float32Array, width: number, q0: number, q1: number}}
 */
export function rowTopLinks(values, k, q0, q1, top, topIndices) {
  const width = Math.min(top, k);
  const order = new Int32Array((q1 - q0) * width);
  const weights = new Float32Array((q1 - q0) * width);
  for (let q = q0; q < q1; q++) {
    const best = topIndices(values, q * k, k, width);
    for (let j = 0; j < width; j++) {
      order[(q - q0) * width + j] = best[j];
      weights[(q - q0) * width + j] = values[q * k + best[j]];
    }
  }
  return { order, weights, width, q0, q1 };
}

/** One token's weights: its row (query) or its column (key). */
export function tokenWeights(values, q, k, kind, index) {
  if (kind === "query") return values.slice(index * k, index * k + k);
  const out = new Float32Array(q);
  for (let i = 0; i < q; i++) out[i] = values[i * k + index];
  return out;
}

/**
 * The largest value of a window outside the `exclude` columns (the colour scale without sinks).
 * @param {Float32Array} values row-major, rows of length k
 * @param {number} k
 * @param {{q0: number, q1: number, k0: number, k1: number}} w
 * @param {number[]} exclude
 */
export function maxWithout(values, k, w, exclude) {
  const skip = new Set(exclude);
  let max = 0;
  for (let q = w.q0; q < w.q1; q++) {
    for (let c = w.k0; c < w.k1; c++) {
      if (!skip.has(c) && values[q * k + c] > max) max = values[q * k + c];
    }
  }
  return max;
}
