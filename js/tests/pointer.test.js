import { test } from "node:test";
import assert from "node:assert/strict";
import { Gesture, clickSelection, keyAction, sameFocus, shownFocus, stepSelection, DRAG_THRESHOLD } from "../pointer.js";
import { heatmapLayout } from "../geometry.js";

const layout = heatmapLayout({ nq: 10, nk: 10, queryLabelWidth: 20, keyLabelHeight: 20, maxMatrixSize: 100, maxCell: 10 });
const full = { q: 10, k: 10 };
const whole = { q0: 0, q1: 10, k0: 0, k1: 10 };
const cellAt = (q, k) => ({ x: layout.x0 + (k + 0.5) * layout.cell, y: layout.y0 + (q + 0.5) * layout.cell });

test("hover shows, a click locks, a click on the locked thing or on nothing unlocks", () => {
  const token = { kind: "query", index: 2 };
  const cell = { kind: "cell", q: 1, k: 3 };
  assert.deepEqual(shownFocus(null, token), token);
  let lock = clickSelection(token, null);
  assert.deepEqual(lock, { kind: "query", index: 2 });
  // Locked: the lock is what is shown, whatever the hover.
  assert.deepEqual(shownFocus(lock, cell), token);
  lock = clickSelection(cell, lock);
  assert.deepEqual(lock, { kind: "cell", q: 1, k: 3 });
  assert.equal(clickSelection(cell, lock), null);
  assert.equal(clickSelection(null, { kind: "key", index: 0 }), null);
  assert.ok(sameFocus({ kind: "key", index: 1 }, { kind: "key", index: 1 }));
  assert.ok(!sameFocus({ kind: "key", index: 1 }, { kind: "query", index: 1 }));
  assert.ok(!sameFocus({ kind: "cell", q: 1, k: 2 }, { kind: "cell", q: 1, k: 3 }));
});

test("a press that stays within the threshold is a click", () => {
  const p = cellAt(2, 2);
  const g = new Gesture({ x: p.x, y: p.y, start: { q: 2, k: 2 }, pan: false, window: whole });
  assert.equal(g.move(p.x + DRAG_THRESHOLD / 2, p.y, layout, full), null);
  assert.deepEqual(g.end(), { kind: "click" });
});

test("a drag draws a box from the pressed cell and zooms to it on release", () => {
  const p = cellAt(2, 3);
  const g = new Gesture({ x: p.x, y: p.y, start: { q: 2, k: 3 }, pan: false, window: whole });
  const to = cellAt(5, 1);
  assert.deepEqual(g.move(to.x, to.y, layout, full), { box: { q0: 2, q1: 6, k0: 1, k1: 4 } });
  assert.deepEqual(g.end(), { kind: "zoom", window: { q0: 2, q1: 6, k0: 1, k1: 4 } });
});

test("shift+drag pans the window against the pointer, inside the matrix", () => {
  const p = cellAt(5, 5);
  const window = { q0: 2, q1: 6, k0: 2, k1: 6 };
  const g = new Gesture({ x: p.x, y: p.y, start: { q: 5, k: 5 }, pan: true, window });
  const moved = g.move(p.x - 2 * layout.cell, p.y + 1 * layout.cell, layout, full);
  assert.deepEqual(moved, { window: { q0: 1, q1: 5, k0: 4, k1: 8 } });
  const far = g.move(p.x - 50 * layout.cell, p.y, layout, full);
  assert.deepEqual(far, { window: { q0: 2, q1: 6, k0: 6, k1: 10 } });
  assert.deepEqual(g.end(), { kind: "done" });
});

test("keys step layers and heads inside their ranges, toggle the mean and zoom", () => {
  const header = { n_layers: 3, n_heads: 2 };
  const at = { layer: 2, head: 0, mean: false };
  assert.deepEqual(keyAction("]", at, header), { patch: { layer: 2 } });
  assert.deepEqual(keyAction("[", at, header), { patch: { layer: 1 } });
  assert.deepEqual(keyAction(".", at, header), { patch: { head: 1, mean: false } });
  assert.deepEqual(keyAction(",", at, header), { patch: { head: 0, mean: false } });
  assert.deepEqual(keyAction("m", at, header), { patch: { mean: true } });
  assert.deepEqual(keyAction("+", at, header), { zoom: 0.5 });
  assert.deepEqual(keyAction("0", at, header), { zoom: 0 });
  assert.equal(keyAction("x", at, header), null);
});

test("j / k and the arrows lock the next / previous token, within the tokens", () => {
  const header = { n_layers: 1, n_heads: 1, tokens: { q: 5, k: 5 } };
  const at = (selection) => ({ layer: 0, head: 0, mean: false, selection });
  assert.deepEqual(keyAction("j", at(null), header), { patch: { selection: { kind: "query", index: 0 } } });
  assert.deepEqual(keyAction("k", at(null), header), { patch: { selection: { kind: "query", index: 4 } } });
  const q2 = { kind: "query", index: 2 };
  assert.deepEqual(keyAction("ArrowDown", at(q2), header).patch.selection, { kind: "query", index: 3 });
  assert.deepEqual(keyAction("ArrowLeft", at(q2), header).patch.selection, { kind: "query", index: 1 });
  assert.deepEqual(keyAction("j", at({ kind: "query", index: 4 }), header).patch.selection, { kind: "query", index: 4 });
  assert.deepEqual(keyAction("k", at({ kind: "key", index: 0 }), header).patch.selection, { kind: "key", index: 0 });
  assert.deepEqual(keyAction("j", at({ kind: "key", index: 1 }), header).patch.selection, { kind: "key", index: 2 });
  // A locked cell walks on by its query row.
  assert.deepEqual(keyAction("j", at({ kind: "cell", q: 1, k: 3 }), header).patch.selection, { kind: "query", index: 2 });
  // Without the token counts (no data yet) the keys do nothing.
  assert.equal(keyAction("j", at(null), { n_layers: 1, n_heads: 1 }), null);
});

test("in a generation the walk starts from the step's row; ? asks for the key list", () => {
  assert.deepEqual(stepSelection(null, 1, { q: 9, k: 9, row: 5 }), { kind: "query", index: 6 });
  assert.deepEqual(stepSelection(null, -1, { q: 9, k: 9, row: 5 }), { kind: "query", index: 4 });
  assert.deepEqual(keyAction("?", { layer: 0, head: 0, mean: false }, { n_layers: 1, n_heads: 1 }), { keys: true });
  assert.deepEqual(keyAction(">", { layer: 0, head: 0, mean: false, step: 2 }, { n_layers: 1, n_heads: 1, steps: 3 }),
    { patch: { step: 3, playing: false } });
});
