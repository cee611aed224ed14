import { test } from "node:test";
import assert from "node:assert/strict";
import { sparklinePoints } from "../overlay.js";

test("a rising series slopes up across the cell, a flat one is flat", () => {
  const up = sparklinePoints(0, 0, 100, [0, 0.5, 1]);
  assert.equal(up.length, 6);
  assert.ok(up[0] < up[2] && up[2] < up[4], "x runs left to right");
  assert.ok(up[1] > up[3] && up[3] > up[5], "y goes up as the value rises");
  const flat = sparklinePoints(10, 10, 50, [0.5, 0.5, 0.5, 0.5]);
  assert.ok([1, 3, 5, 7].every((i) => flat[i] === flat[1]));
});

test("sparklines stay inside their cell", () => {
  const pts = sparklinePoints(20, 40, 30, [-1, 2, 0.3]);
  for (let i = 0; i < pts.length; i += 2) {
    assert.ok(pts[i] >= 20 && pts[i] <= 50);
    assert.ok(pts[i + 1] >= 40 && pts[i + 1] <= 70);
  }
});
