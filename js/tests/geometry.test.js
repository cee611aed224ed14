import { test } from "node:test";
import assert from "node:assert/strict";
import { heatmapLayout, heatmapHit, labelStep, linesLayout, linesHit, rowY, truncateLabel } from "../geometry.js";

const base = { queryLabelWidth: 40, keyLabelHeight: 30 };

test("small matrices get whole-pixel square cells capped at maxCell", () => {
  const l = heatmapLayout({ ...base, nq: 5, nk: 5 });
  assert.equal(l.cell, 28);
  assert.equal(l.matrixWidth, 140);
  assert.equal(l.x0, 48);
  assert.equal(l.y0, 38);
  assert.ok(l.barX > l.x0 + l.matrixWidth);
});

test("matrices larger than the canvas get fractional cells that fit", () => {
  const l = heatmapLayout({ ...base, nq: 1000, nk: 1000, maxMatrixSize: 400 });
  assert.equal(l.cell, 0.4);
  assert.equal(l.matrixWidth, 400);
});

test("cross-attention keeps square cells on a rectangle", () => {
  const l = heatmapLayout({ ...base, nq: 4, nk: 10 });
  assert.equal(l.matrixHeight / 4, l.matrixWidth / 10);
});

test("hit-testing finds the cell, the label row and the label column", () => {
  const l = heatmapLayout({ ...base, nq: 5, nk: 7 });
  assert.deepEqual(heatmapHit(l, l.x0 + 2 * l.cell + 1, l.y0 + 3 * l.cell + 1), { kind: "cell", q: 3, k: 2 });
  assert.deepEqual(heatmapHit(l, l.x0 - 10, l.y0 + 4.5 * l.cell), { kind: "query", index: 4 });
  assert.deepEqual(heatmapHit(l, l.x0 + 6.5 * l.cell, l.y0 - 5), { kind: "key", index: 6 });
  assert.equal(heatmapHit(l, l.x0 + 7 * l.cell + 1, l.y0 + 1), null);
  assert.equal(heatmapHit(l, l.x0 - 1, l.y0 - 1), null);
});

test("labels are thinned so that they never overlap", () => {
  assert.equal(labelStep(20, 12), 1);
  assert.equal(labelStep(3, 12), 4);
  assert.equal(labelStep(0.5, 12), 24);
});

test("token-line layout puts queries left, keys right, rows evenly spaced", () => {
  const l = linesLayout({ nq: 4, nk: 4, queryLabelWidth: 50, keyLabelWidth: 60 });
  assert.ok(l.leftX < l.lineStartX && l.lineStartX < l.lineEndX && l.lineEndX < l.rightX);
  assert.equal(rowY(l, 1) - rowY(l, 0), l.row);
  assert.equal(l.width, l.rightX + 60 + 8);
  assert.deepEqual(linesHit(l, l.leftX - 5, rowY(l, 2)), { kind: "query", index: 2 });
  assert.deepEqual(linesHit(l, l.rightX + 5, rowY(l, 3)), { kind: "key", index: 3 });
  assert.equal(linesHit(l, (l.lineStartX + l.lineEndX) / 2, rowY(l, 1)), null);
  assert.equal(linesHit(l, l.leftX - 5, rowY(l, 3) + l.row), null);
});

test("long tokens are cut with an ellipsis, counting characters not code units", () => {
  assert.equal(truncateLabel("short"), "short");
  assert.equal(truncateLabel("abcdefghijklmnopqrstuvwxyz", 8), "abcdefg…");
  assert.equal(truncateLabel("😀😀😀😀😀", 4), "😀😀😀…");
});
