import { test } from "node:test";
import assert from "node:assert/strict";
import { linesFromLinks, linesFromToken, topIndices, LEVELS, MIN_ALPHA, lineWidth, defaultTopK } from "../lines.js";
import { rowTopLinks } from "../pool.js";

const pairsOf = (groups) => groups.flatMap((g) => {
  const out = [];
  for (let i = 0; i < g.pairs.length; i += 2) out.push([g.pairs[i], g.pairs[i + 1], g.alpha]);
  return out;
});

// 3 x 3: row 0 attends to 0; row 1 splits 0.75/0.25; row 2 uniform.
const m = new Float32Array([1, 0, 0, 0.75, 0.25, 0, 1 / 3, 1 / 3, 1 / 3]);
const all = (top = 3) => rowTopLinks(m, 3, 0, 3, top, topIndices);

test("every visible pair gets a line, zero weights none", () => {
  const pairs = pairsOf(linesFromLinks(all(), 1, 1));
  assert.equal(pairs.length, 6);
  assert.ok(!pairs.some(([q, k]) => q === 0 && k === 1));
});

test("opacity follows (w / max) ** gamma within one level", () => {
  for (const gamma of [0.5, 1, 2]) {
    for (const [q, k, alpha] of pairsOf(linesFromLinks(all(), 1, gamma))) {
      const expected = m[q * 3 + k] ** gamma;
      assert.ok(Math.abs(alpha - expected) <= 1 / LEVELS, `${q},${k} gamma ${gamma}: ${alpha} vs ${expected}`);
    }
  }
});

test("levels come weakest first so strong lines are drawn on top", () => {
  const groups = linesFromLinks(all(), 1, 1);
  for (let i = 1; i < groups.length; i++) assert.ok(groups[i].alpha > groups[i - 1].alpha);
});

test("a query token's lines are its row, a key token's lines its column", () => {
  const row = pairsOf(linesFromToken(m.slice(3, 6), "query", 1, 1, 1));
  assert.deepEqual(row.map(([q, k]) => [q, k]).sort(), [[1, 0], [1, 1]]);
  const column = pairsOf(linesFromToken(new Float32Array([1, 0.75, 1 / 3]), "key", 0, 1, 1));
  assert.deepEqual(column.map(([q, k]) => [q, k]).sort(), [[0, 0], [1, 0], [2, 0]]);
});

test("top-k keeps each query's strongest links, ties to the lower index", () => {
  const pairs = pairsOf(linesFromLinks(all(1), 1, 1));
  assert.deepEqual(pairs.map(([q, k]) => [q, k]).sort(), [[0, 0], [1, 0], [2, 0]]);
  assert.deepEqual(topIndices(new Float32Array([0.2, 0.5, 0.5, 0.1]), 0, 4, 2), [1, 2]);
});

test("a threshold hides links weaker than a fraction of the maximum", () => {
  const pairs = pairsOf(linesFromLinks(all(), 1, 1, 0.5));
  assert.deepEqual(pairs.map(([q, k]) => [q, k]).sort(), [[0, 0], [1, 0]]);
});

test("invisible lines are skipped", () => {
  const faint = new Float32Array([1, MIN_ALPHA / 2]);
  assert.equal(pairsOf(linesFromToken(faint, "query", 0, 1, 1)).length, 1);
});

test("strong lines are thicker; big inputs get a per-token budget", () => {
  assert.ok(lineWidth(1) > lineWidth(0.1));
  assert.equal(defaultTopK(10, 10), 10);
  assert.equal(defaultTopK(512, 512), 8);
});

test("bounded top-k agrees with a full sort on random rows", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(rand() * 40);
    const row = new Float32Array(n).map(() => Math.round(rand() * 8) / 8);
    const k = 1 + Math.floor(rand() * n);
    const full = Array.from({ length: n }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
    assert.deepEqual(topIndices(row, 0, n, k), full.slice(0, k));
  }
});
