import { test } from "node:test";
import assert from "node:assert/strict";
import { arrangements, fitPictures, wrappedHeight, grow, LOWEST } from "../fit.js";

/** A square picture of side lo..hi (t 0..1). */
const square = (name, lo, hi) => ({ name, size: (t) => ({ w: grow(lo / 2, lo, hi, t), h: grow(lo / 2, lo, hi, t) }) });

test("every split of the pictures into rows keeps their order, one row first", () => {
  assert.deepEqual(arrangements(["a"]), [[["a"]]]);
  const three = arrangements(["a", "b", "c"]);
  assert.equal(three.length, 4);
  assert.deepEqual(three[0], [["a", "b", "c"]]);
  assert.deepEqual(three[3], [["a"], ["b"], ["c"]]);
  for (const rows of three) assert.deepEqual(rows.flat(), ["a", "b", "c"]);
});

test("a wide box puts the pictures side by side, a tall one stacks them", () => {
  const items = [square("a", 100, 400), square("b", 100, 400)];
  const wide = fitPictures(items, { width: 1000, height: 300 }, 10);
  assert.deepEqual(wide.rows, [["a", "b"]]);
  assert.ok(wide.fits && wide.width <= 1000 && wide.height <= 300);
  assert.ok(Math.abs(wide.sizes.a.h - 300) < 0.1, String(wide.sizes.a.h)); // the height binds
  const tall = fitPictures(items, { width: 300, height: 1000 }, 10);
  assert.deepEqual(tall.rows, [["a"], ["b"]]);
  assert.ok(tall.height <= 1000 && tall.width <= 300);
});

test("the largest scale that fits is found, to the pixel", () => {
  const fit = fitPictures([square("a", 100, 500)], { width: 333, height: 999 }, 10);
  assert.ok(Math.abs(fit.sizes.a.w - 333) < 0.1, String(fit.sizes.a.w));
  // A box larger than every preferred size: all at t = 1.
  const roomy = fitPictures([square("a", 100, 500)], { width: 900, height: 900 }, 10);
  assert.equal(roomy.t, 1);
});

test("below the readable sizes the last resort still fits, and nothing at all says so", () => {
  const items = [square("a", 100, 400), square("b", 100, 400)];
  const small = fitPictures(items, { width: 130, height: 130 }, 10);
  assert.ok(small.fits && small.t < 0 && small.t >= LOWEST, String(small.t));
  const none = fitPictures(items, { width: 40, height: 40 }, 10);
  assert.equal(none.fits, false);
  assert.equal(none.t, LOWEST);
});

test("a fill picture takes what its row leaves, a stretchable one what the box leaves", () => {
  const fill = { name: "f", fill: true, size: (_t, room) => ({ w: Math.max(100, room), h: 20000 / Math.max(100, room) }) };
  const lines = { name: "l", size: () => ({ w: 100, h: 50 }), stretch: (height) => ({ w: 100, h: Math.min(height, 400) }) };
  const fit = fitPictures([square("a", 50, 300), lines, fill], { width: 600, height: 500 }, 10);
  for (const row of fit.rows) {
    const used = row.reduce((sum, name) => sum + fit.sizes[name].w, 0) + 10 * (row.length - 1);
    assert.ok(used <= 600 + 1e-6, `${row}: ${used}`);
  }
  assert.ok(fit.height <= 500 + 1e-6);
  const row = fit.rows.find((r) => r.includes("f"));
  if (row.length === 1) assert.equal(fit.sizes.f.w, 600);
  assert.ok(fit.sizes.l.h >= 50);
});

test("a bar's items wrap into as many rows as the width needs", () => {
  const o = { rowHeight: 30, gapX: 10, gapY: 6 };
  assert.equal(wrappedHeight([], { ...o, width: 100 }), 0);
  assert.equal(wrappedHeight([40, 40], { ...o, width: 90 }), 30);
  assert.equal(wrappedHeight([40, 40], { ...o, width: 89 }), 66);
  assert.equal(wrappedHeight([100, 40, 40], { ...o, width: 95 }), 30 * 2 + 6);
});

test("grow runs from the last resort through the smallest readable to the preferred size", () => {
  assert.equal(grow(50, 100, 300, -1), 50);
  assert.equal(grow(50, 100, 300, 0), 100);
  assert.equal(grow(50, 100, 300, 0.5), 200);
  assert.equal(grow(50, 100, 300, 1), 300);
  // A small input prefers less than the smallest readable size: that is its size.
  assert.equal(grow(50, 100, 80, 0), 80);
  assert.equal(grow(50, 100, 80, 1), 80);
});
