import { test } from "node:test";
import assert from "node:assert/strict";
import { heatmapLayout, heatmapHit, labelStep, linesLayout, linesHit, rowY, truncateLabel, zoomWindow, panWindow, boxWindow, visibleRows, visibleToken } from "../geometry.js";

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

test("a zoomed window offsets hit-testing into the matrix", () => {
  const l = heatmapLayout({ ...base, nq: 4, nk: 4, q0: 100, k0: 200 });
  assert.deepEqual(heatmapHit(l, l.x0 + 1.5 * l.cell, l.y0 + 2.5 * l.cell), { kind: "cell", q: 102, k: 201 });
});

test("zooming keeps the anchor cell under the mouse and stays inside the matrix", () => {
  const full = { q0: 0, q1: 1000, k0: 0, k1: 1000 };
  const w = zoomWindow(full, { q: 250.5, k: 750.5 }, 0.5, 1000, 1000);
  assert.equal(w.q1 - w.q0, 500);
  assert.ok(w.q0 <= 250 && 250 < w.q1 && w.k0 <= 750 && 750 < w.k1);
  assert.ok(Math.abs((250.5 - w.q0) / 500 - 250.5 / 1000) < 0.01);
  // Zooming in step by step keeps the anchor cell inside the window.
  let z = full;
  for (let i = 0; i < 25; i++) z = zoomWindow(z, { q: 500.5, k: 250.5 }, 0.8, 1000, 1000);
  assert.ok(z.q0 <= 500 && 500 < z.q1 && z.k0 <= 250 && 250 < z.k1, JSON.stringify(z));
  const edge = zoomWindow(full, { q: 999.5, k: 0.5 }, 0.1, 1000, 1000);
  assert.deepEqual([edge.q1, edge.k0], [1000, 0]);
  const tiny = zoomWindow({ q0: 10, q1: 14, k0: 10, k1: 14 }, { q: 11, k: 11 }, 0.5, 1000, 1000);
  assert.equal(tiny.q1 - tiny.q0, 4);
  assert.deepEqual(zoomWindow(w, { q: 0, k: 0 }, 100, 1000, 1000), full);
});

test("panning moves the window without leaving the matrix", () => {
  const w = { q0: 10, q1: 20, k0: 0, k1: 10 };
  assert.deepEqual(panWindow(w, 5, -3, 100, 100), { q0: 15, q1: 25, k0: 0, k1: 10 });
  assert.deepEqual(panWindow(w, 500, 500, 100, 100), { q0: 90, q1: 100, k0: 90, k1: 100 });
});

test("a drag box spans the two cells, whichever way it was drawn", () => {
  assert.deepEqual(boxWindow({ q: 9, k: 2 }, { q: 3, k: 5 }), { q0: 3, q1: 10, k0: 2, k1: 6 });
});

test("long token columns scroll instead of shrinking rows below readability", () => {
  const l = linesLayout({ nq: 1000, nk: 1000, queryLabelWidth: 10, keyLabelWidth: 10, maxHeight: 400, minRow: 14, scrollTop: 1400 });
  assert.equal(l.row, 14);
  assert.equal(l.contentHeight, 20 + 14000);
  assert.equal(l.height, 420);
  const [first, last] = visibleRows(l);
  assert.equal(first, 99);
  assert.ok(last - first <= 32);
  assert.deepEqual(linesHit(l, 2, rowY(l, 120)), { kind: "query", index: 120 });
  const clamped = linesLayout({ nq: 10, nk: 10, queryLabelWidth: 10, keyLabelWidth: 10, scrollTop: 500 });
  assert.equal(clamped.scrollTop, 0);
});

test("direction overrides, control characters and empty tokens are made visible", () => {
  assert.equal(visibleToken("\u202eevil\u202c"), "⟨U+202E⟩evil⟨U+202C⟩");
  assert.equal(visibleToken("a\tb\n"), "a␉b␊");
  assert.equal(visibleToken(""), "∅");
  assert.equal(visibleToken("<img src=x>"), "<img src=x>");
  assert.equal(truncateLabel("\u202e"), "⟨U+202E⟩");
});
