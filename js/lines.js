// Which lines the token-line picture draws, and how strongly.
// Opacity (and width) of the line q → k is (w[q, k] / max of the slice) ** gamma.

import { contrast } from "./colormap.js";

/** Lines fainter than this are invisible on screen and are skipped. */
export const MIN_ALPHA = 1 / 255;
/** Number of opacity levels: one canvas path a level keeps repaints fast. */
export const LEVELS = 32;

/**
 * @typedef {{kind: "query" | "key", index: number} | {kind: "cell", q: number, k: number} | null} Focus
 */

/**
 * Group the visible lines into opacity levels, weakest level first.
 * @param {Float32Array} values row-major nq × nk
 * @param {number} nq
 * @param {number} nk
 * @param {number} max slice maximum
 * @param {number} gamma
 * @param {{focus?: Focus, topK?: number}} [opts] `focus` keeps only one token's
 *   lines (all of them); `topK` keeps each query's strongest k lines otherwise.
 * @returns {{level: number, alpha: number, pairs: number[]}[]} pairs: flat [q, k, q, k, ...]
 */
export function selectLines(values, nq, nk, max, gamma, opts = {}) {
  const { focus = null, topK = Infinity } = opts;
  /** @type {number[][]} */
  const byLevel = Array.from({ length: LEVELS }, () => []);
  const add = (q, k) => {
    const alpha = contrast(values[q * nk + k], max, gamma);
    if (alpha < MIN_ALPHA) return;
    byLevel[Math.min(LEVELS - 1, Math.floor(alpha * LEVELS))].push(q, k);
  };
  if (focus && focus.kind === "query") {
    for (let k = 0; k < nk; k++) add(focus.index, k);
  } else if (focus && focus.kind === "key") {
    for (let q = 0; q < nq; q++) add(q, focus.index);
  } else if (topK >= nk) {
    for (let q = 0; q < nq; q++) for (let k = 0; k < nk; k++) add(q, k);
  } else {
    for (let q = 0; q < nq; q++) for (const k of topIndices(values, q * nk, nk, topK)) add(q, k);
  }
  const out = [];
  for (let level = 0; level < LEVELS; level++) {
    if (byLevel[level].length) out.push({ level, alpha: (level + 0.5) / LEVELS, pairs: byLevel[level] });
  }
  return out;
}

/**
 * Indices of the `k` largest values of row `values[start .. start + n)`, ties to the lower index.
 * @param {Float32Array} values
 * @param {number} start
 * @param {number} n
 * @param {number} k
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

/** Default per-token line budget: every line for small inputs, the strongest few beyond. */
export function defaultTopK(nq, nk) {
  return nq * nk <= 128 * 128 ? Infinity : 8;
}
