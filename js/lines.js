// Which lines the token-line picture draws, and how strongly.
// Opacity (and width) of the line q → k is (w[q, k] / max of the slice) ** gamma.

import { contrast } from "./colormap.js";

/** Lines fainter than this are invisible on screen and are skipped. */
export const MIN_ALPHA = 1 / 255;
/** Number of opacity levels: one canvas path a level keeps repaints fast. */
export const LEVELS = 32;

/**
 * @typedef {{kind: "query" | "key", index: number} | {kind: "cell", q: number, k: number} | null} Focus
 * @typedef {{level: number, alpha: number, pairs: number[]}} LineGroup  pairs: flat [q, k, q, k, ...]
 */

/** Collects lines into opacity levels. */
class Levels {
  constructor(max, gamma, minRatio) {
    this.max = max;
    this.gamma = gamma;
    this.minRatio = minRatio;
    /** @type {number[][]} */
    this.byLevel = Array.from({ length: LEVELS }, () => []);
  }

  add(q, k, weight) {
    if (this.max > 0 && weight / this.max < this.minRatio) return;
    const alpha = contrast(weight, this.max, this.gamma);
    if (alpha < MIN_ALPHA) return;
    this.byLevel[Math.min(LEVELS - 1, Math.floor(alpha * LEVELS))].push(q, k);
  }

  /** @returns {LineGroup[]} weakest level first, so strong lines are drawn on top */
  groups() {
    const out = [];
    for (let level = 0; level < LEVELS; level++) {
      const pairs = this.byLevel[level];
      if (pairs.length) out.push({ level, alpha: (level + 0.5) / LEVELS, pairs });
    }
    return out;
  }
}

/**
 * Lines of query rows from their strongest links (see pool.js rowTopLinks).
 * @param {{order: Int32Array, weights: Float32Array, width: number, q0: number, q1: number}} links
 * @param {number} max slice maximum
 * @param {number} gamma
 * @param {number} [minRatio] hide links weaker than this fraction of the maximum
 * @returns {LineGroup[]}
 */
export function linesFromLinks(links, max, gamma, minRatio = 0) {
  const levels = new Levels(max, gamma, minRatio);
  const { order, weights, width, q0, q1 } = links;
  for (let q = q0; q < q1; q++) {
    for (let j = 0; j < width; j++) levels.add(q, order[(q - q0) * width + j], weights[(q - q0) * width + j]);
  }
  return levels.groups();
}

/**
 * Every line of one token: a query's row or a key's column of weights.
 * @param {Float32Array} weights
 * @param {"query" | "key"} kind
 * @param {number} index
 * @returns {LineGroup[]}
 */
export function linesFromToken(weights, kind, index, max, gamma) {
  const levels = new Levels(max, gamma, 0);
  for (let i = 0; i < weights.length; i++) {
    if (kind === "query") levels.add(index, i, weights[i]);
    else levels.add(i, index, weights[i]);
  }
  return levels.groups();
}

/**
 * Indices of the `k` largest values of row `values[start .. start + n)`, ties to the lower index.
 * @param {Float32Array} values
 */
export function topIndices(values, start, n, k) {
  const size = Math.max(0, Math.min(k, n));
  if (size === n) {
    const all = Array.from({ length: n }, (_, i) => i);
    return all.sort((a, b) => values[start + b] - values[start + a] || a - b);
  }
  // Bounded insertion: O(n·k), much cheaper than sorting the row when k is small.
  /** @type {number[]} */
  const best = [];
  for (let i = 0; i < n; i++) {
    const v = values[start + i];
    if (best.length === size && v <= values[start + best[size - 1]]) continue;
    let j = best.length === size ? size - 1 : best.length;
    while (j > 0 && values[start + best[j - 1]] < v) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return best;
}

/** Line width for an opacity level: strong links are also thicker. */
export function lineWidth(alpha, scale = 1) {
  return (0.6 + 2.4 * alpha) * scale;
}

/** Default links per token: every line for small inputs, the strongest few beyond. */
export function defaultTopK(nq, nk) {
  return nq * nk <= 128 * 128 ? nk : 8;
}
