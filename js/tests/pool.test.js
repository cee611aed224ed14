import { test } from "node:test";
import assert from "node:assert/strict";
import { maxPoolWindow, poolFactor, tokenWeights } from "../pool.js";

// 4 x 5, value = 10 * row + col
const m = Float32Array.from({ length: 20 }, (_, i) => 10 * Math.floor(i / 5) + (i % 5));

test("max pooling keeps the largest value of each block, partial blocks at the edge", () => {
  const p = maxPoolWindow(m, 5, { q0: 0, q1: 4, k0: 0, k1: 5 }, 2, 2);
  assert.equal(p.rows, 2);
  assert.equal(p.cols, 3);
  assert.deepEqual([...p.values], [11, 13, 14, 31, 33, 34]);
});

test("a window at factor 1 is a crop", () => {
  const p = maxPoolWindow(m, 5, { q0: 1, q1: 3, k0: 2, k1: 4 }, 1, 1);
  assert.deepEqual([...p.values], [12, 13, 22, 23]);
});

test("a single strong cell survives pooling", () => {
  const big = new Float32Array(100 * 100).fill(0.001);
  big[57 * 100 + 3] = 1;
  const p = maxPoolWindow(big, 100, { q0: 0, q1: 100, k0: 0, k1: 100 }, 10, 10);
  assert.equal(p.values[5 * 10 + 0], 1);
});

test("pool factors fit the extent in the pixels", () => {
  assert.equal(poolFactor(100, 440), 1);
  assert.equal(poolFactor(8192, 440), 19);
});

test("a token's weights are its row or its column", () => {
  assert.deepEqual([...tokenWeights(m, 4, 5, "query", 2)], [20, 21, 22, 23, 24]);
  assert.deepEqual([...tokenWeights(m, 4, 5, "key", 1)], [1, 11, 21, 31]);
});
