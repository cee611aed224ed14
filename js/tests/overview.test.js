import { test } from "node:test";
import assert from "node:assert/strict";
import { gridLayout, gridHit, THUMB } from "../overview.js";

test("the overview grid finds the thumbnail under the mouse, not the gaps", () => {
  const l = gridLayout(12, 12);
  assert.deepEqual(gridHit(l, 12, 12, l.x0 + 1, l.y0 + 1), { layer: 0, head: 0 });
  assert.deepEqual(gridHit(l, 12, 12, l.x0 + 3 * l.pitch + 5, l.y0 + 7 * l.pitch + 5), { layer: 7, head: 3 });
  assert.equal(gridHit(l, 12, 12, l.x0 + THUMB + 1, l.y0 + 1), null);
  assert.equal(gridHit(l, 12, 12, l.x0 - 1, l.y0 + 1), null);
  assert.equal(gridHit(l, 12, 12, l.x0 + 12 * l.pitch + 1, l.y0 + 1), null);
  assert.equal(l.width, l.x0 + 12 * l.pitch);
});
