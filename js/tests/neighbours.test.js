import test from "node:test";
import assert from "node:assert/strict";
import { neighbours } from "../neighbours.js";

const ids = (list) => list.map((n) => `${n.layer}/${n.head}`);

test("the way the slider moved comes first, then every neighbour", () => {
  const got = neighbours({ layer: 5, head: 5, mean: false }, { dl: 1, dh: 0 }, 12, 12);
  assert.deepEqual(ids(got), ["6/5", "7/5", "8/5", "4/5", "5/6", "5/4"]);
});

test("stepping below head 0 is outside the grid, not the head mean", () => {
  const got = neighbours({ layer: 0, head: 0, mean: false }, { dl: 0, dh: -1 }, 12, 12);
  assert.deepEqual(ids(got), ["1/0", "0/1"]);
  assert.ok(got.every((n) => n.head >= 0));
});

test("while the mean is shown, the neighbours are other layers' means", () => {
  const got = neighbours({ layer: 11, head: 3, mean: true }, { dl: -1, dh: 0 }, 12, 12);
  assert.deepEqual(ids(got), ["10/null", "9/null", "8/null"]);
});

test("a single slice has no neighbours", () => {
  assert.deepEqual(neighbours({ layer: 0, head: 0, mean: false }, { dl: 1, dh: 1 }, 1, 1), []);
});
