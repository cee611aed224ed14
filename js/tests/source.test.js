import { test } from "node:test";
import assert from "node:assert/strict";
import { DataSource } from "../source.js";

function source(meta, cube = null) {
  const sent = [];
  let ready = 0;
  const s = new DataSource({ viewId: "v", send: (m) => sent.push(m), onReady: () => ready++ });
  s.reset(meta, cube, "attention");
  return { s, sent, ready: () => ready };
}

const kernelMeta = { tier: "slices", n_layers: 12, n_heads: 12, n_cases: 1, cases: [{ q: 2, k: 2, offset: 0 }], encoding: {} };
const whole = (layer, head) => ({ layer, head, case: 0, q0: 0, q1: 2, k0: 0, k1: 2, rows: 440, cols: 440 });

function tileReply(msg, values) {
  const data = new Float32Array(values);
  return [{ type: "tile", id: msg.id, layer: msg.layer, head: msg.head, case: msg.case, component: "attention",
    rows: 2, cols: 2, fq: 1, fk: 1, q0: 0, q1: 2, k0: 0, k1: 2, dtype: "float32", scale: 1 }, [new DataView(data.buffer)]];
}

test("the cube tier slices layer, head, head mean and case in the browser", () => {
  const L = 2, H = 1;
  const case0 = [10, 11, 12, 13]; // (layer, head+1) blocks of one value
  const case1 = Array.from({ length: L * (H + 1) * 4 }, (_, i) => 100 + i);
  const cube = new Float32Array([...case0, ...case1]);
  const meta = { tier: "cube", n_layers: L, n_heads: H, n_cases: 2, encoding: { dtype: "float32", scale: 1 },
    cases: [{ q: 1, k: 1, offset: 0 }, { q: 2, k: 2, offset: 4 }] };
  const { s, sent } = source(meta, new Uint8Array(cube.buffer));
  assert.deepEqual([...s.fullSlice({ layer: 1, head: 0, case: 0 }).values], [12]);
  assert.deepEqual([...s.fullSlice({ layer: 1, head: null, case: 0 }).values], [13]);
  assert.deepEqual([...s.fullSlice({ layer: 0, head: null, case: 1 }).values], [104, 105, 106, 107]);
  const pooled = s.tile({ layer: 1, head: 0, case: 1, q0: 0, q1: 2, k0: 0, k1: 2, rows: 1, cols: 1 });
  assert.deepEqual([...pooled.values], [111]);
  const links = s.links({ layer: 1, head: 0, case: 1, q0: 1, q1: 2, top: 1 });
  assert.deepEqual([...links.order], [1]);
  assert.deepEqual([...s.token({ layer: 1, head: 0, case: 1, kind: "key", index: 0 }).values], [108, 110]);
  assert.equal(sent.length, 0);
});

test("the kernel tier asks once, caches the answer and keeps a whole slice", () => {
  const { s, sent, ready } = source(kernelMeta);
  assert.equal(s.tile(whole(0, 0)), null);
  assert.equal(s.tile(whole(0, 0)), null);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].type, "tile");
  s.receive(...tileReply(sent[0], [0.1, 0.9, 0.5, 0.5]));
  assert.equal(ready(), 1);
  assert.equal(s.tile(whole(0, 0)).max, Math.fround(0.9));
  // The tile was the whole slice: links and tokens are computed here, no request.
  assert.deepEqual([...s.links({ layer: 0, head: 0, case: 0, q0: 0, q1: 2, top: 1 }).order], [1, 0]);
  assert.equal(sent.length, 1);
});

test("dragging across many heads sends only the first and the last wish", () => {
  const { s, sent } = source(kernelMeta);
  for (let head = 0; head < 12; head++) s.tile(whole(0, head));
  assert.equal(sent.length, 1);
  s.receive(...tileReply(sent[0], [1, 0, 0, 1]));
  assert.equal(sent.length, 2);
  assert.equal(sent[1].head, 11);
  s.receive(...tileReply(sent[1], [0, 1, 1, 0]));
  assert.equal(sent.length, 2);
  assert.ok(s.tile(whole(0, 11)));
});

test("different kinds of request go out side by side", () => {
  const { s, sent } = source(kernelMeta);
  s.tile(whole(0, 0));
  s.links({ layer: 0, head: 0, case: 0, q0: 0, q1: 2, top: 1 });
  assert.deepEqual(sent.map((m) => m.type), ["tile", "links"]);
});

test("prefetch fills idle time, at most four at a time, never ahead of a wish", () => {
  const { s, sent } = source(kernelMeta);
  for (const layer of [1, 2, 3, 4, 5]) s.tile(whole(layer, 0), true);
  assert.equal(sent.length, 4);
  s.tile(whole(5, 5));
  assert.equal(sent.length, 5);
  // The kernel tells the two apart: a wish goes before its warm-up work.
  assert.deepEqual(sent.map((m) => m.prefetch === true), [true, true, true, true, false]);
});

test("replies for another component or with an error are not cached", () => {
  const { s, sent } = source(kernelMeta);
  s.tile(whole(0, 0));
  const [msg, buffers] = tileReply(sent[0], [1, 0, 0, 1]);
  s.receive({ ...msg, component: "other" }, buffers);
  assert.equal(s.cache.size, 0);
  s.tile(whole(0, 1));
  s.receive({ type: "tile", id: sent[1].id, error: "layer: expected 0..11, got 12" }, []);
  assert.match(s.lastError, /expected 0..11/);
});

test("links replies decode indices and weights", () => {
  const { s, sent } = source(kernelMeta);
  const want = { layer: 0, head: 0, case: 0, q0: 0, q1: 2, top: 1 };
  s.links(want);
  const order = new Int32Array([1, 0]);
  const weights = new Float32Array([0.9, 0.5]);
  s.receive({ type: "links", id: sent[0].id, component: "attention", layer: 0, head: 0, case: 0, q0: 0, q1: 2,
    width: 1, dtype: "float32", scale: 1 }, [new DataView(order.buffer), new DataView(weights.buffer)]);
  const got = s.links(want);
  assert.deepEqual([...got.order], [1, 0]);
  assert.deepEqual([...got.weights].map((v) => Math.round(v * 10) / 10), [0.9, 0.5]);
});
