import { test } from "node:test";
import assert from "node:assert/strict";
import { tooltipRows } from "../tooltip.js";

const tokens = { queryTokens: ["a", "b\u202e"], keyTokens: ["x", ""] };

test("a token's row names it, with hidden characters made visible", () => {
  assert.deepEqual(tooltipRows({ kind: "query", index: 1 }, { ...tokens, shown: null, exact: true }),
    [["query 1: ", "b⟨U+202E⟩"]]);
  assert.deepEqual(tooltipRows({ kind: "key", index: 1 }, { ...tokens, shown: null, exact: true }),
    [["key 1: ", "∅"]]);
});

test("a cell gives both tokens and its value; a pooled cell its block", () => {
  const shown = { value: 0.123456, pooled: false, q0: 0, q1: 1, k0: 0, k1: 1 };
  assert.deepEqual(tooltipRows({ kind: "cell", q: 0, k: 0 }, { ...tokens, shown, exact: true }).at(-1),
    ["value: ", "0.1235", "value"]);
  const block = { value: 0.5, pooled: true, q0: 0, q1: 4, k0: 8, k1: 12 };
  const rows = tooltipRows({ kind: "cell", q: 1, k: 1 }, { ...tokens, shown: block, exact: false });
  assert.deepEqual(rows.slice(-2), [["max of block: ", "0.5", "value"], ["", "rows 0–3, cols 8–11 (zoom in for single cells)"]]);
});

test("an analysis view lists the overlay's numbers, a series as a list", () => {
  const overlay = { kind: "evolution", k: 2, steps: 3, scaleMax: 1,
    channels: { base: new Float32Array([0.1, 0.2, 0.3, 0.4]), values: new Float32Array(12).map((_, i) => i / 10) } };
  const analysis = { tooltip: [["mean", "base", 4], ["series", "values", 2]] };
  const rows = tooltipRows({ kind: "cell", q: 1, k: 0 }, { ...tokens, shown: null, exact: true, analysis, overlay });
  assert.deepEqual(rows.slice(-2), [["mean: ", "0.3", "value"], ["series: ", "0.6, 0.7, 0.8", "value"]]);
});
