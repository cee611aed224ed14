import { test } from "node:test";
import assert from "node:assert/strict";
import { SliceSource } from "../slices.js";

function source(meta, cube = null) {
  const sent = [];
  let ready = 0;
  const s = new SliceSource({ viewId: "v", send: (m) => sent.push(m), onReady: () => ready++ });
  s.reset(meta, cube, "attention");
  return { s, sent, ready: () => ready };
}

const slicesMeta = { tier: "slices", n_layers: 12, n_heads: 12, n_cases: 1, cases: [{ q: 2, k: 2, offset: 0 }], encoding: {} };

function reply(msg, values) {
  const data = new Float32Array(values);
  return [{ type: "slice", id: msg.id, layer: msg.layer, head: msg.head, case: msg.case, component: "attention", q: 2, k: 2, dtype: "float32", scale: 1 }, [new DataView(data.buffer)]];
}

test("the cube tier slices layer, head, head mean and case in the browser", () => {
  // 2 layers, 1 head (+ mean), cases of 1x1 and 2x2.
  const L = 2, H = 1;
  const case0 = [10, 11, 12, 13]; // (layer, head+1) blocks of 1 value
  const case1 = Array.from({ length: L * (H + 1) * 4 }, (_, i) => 100 + i);
  const cube = new Float32Array([...case0, ...case1]);
  const meta = { tier: "cube", n_layers: L, n_heads: H, n_cases: 2, encoding: { dtype: "float32", scale: 1 },
    cases: [{ q: 1, k: 1, offset: 0 }, { q: 2, k: 2, offset: 4 }] };
  const { s, sent } = source(meta, new Uint8Array(cube.buffer));
  assert.deepEqual([...s.get({ layer: 1, head: 0, case: 0 }).values], [12]);
  assert.deepEqual([...s.get({ layer: 1, head: -1, case: 0 }).values], [13]);
  assert.deepEqual([...s.get({ layer: 0, head: -1, case: 1 }).values], [104, 105, 106, 107]);
  assert.equal(s.get({ layer: 1, head: 0, case: 1 }).max, 111);
  assert.equal(sent.length, 0);
});

test("the slices tier asks the kernel once and caches the answer", () => {
  const { s, sent, ready } = source(slicesMeta);
  assert.equal(s.get({ layer: 0, head: 0, case: 0 }), null);
  assert.equal(s.get({ layer: 0, head: 0, case: 0 }), null);
  assert.equal(sent.length, 1);
  s.receive(...reply(sent[0], [0.1, 0.9, 0.5, 0.5]));
  assert.equal(ready(), 1);
  const slice = s.get({ layer: 0, head: 0, case: 0 });
  assert.deepEqual([...slice.values].map((v) => Math.round(v * 10) / 10), [0.1, 0.9, 0.5, 0.5]);
  assert.equal(sent.length, 1);
});

test("dragging across many heads sends only the first and the last wish", () => {
  const { s, sent } = source(slicesMeta);
  for (let head = 0; head < 12; head++) s.get({ layer: 0, head, case: 0 });
  assert.equal(sent.length, 1);
  s.receive(...reply(sent[0], [1, 0, 0, 1]));
  assert.equal(sent.length, 2);
  assert.equal(sent[1].head, 11);
  s.receive(...reply(sent[1], [0, 1, 1, 0]));
  assert.equal(sent.length, 2);
  assert.ok(s.get({ layer: 0, head: 11, case: 0 }));
});

test("prefetch asks for uncached neighbours, at most two at a time", () => {
  const { s, sent } = source(slicesMeta);
  s.prefetch([{ layer: 1, head: 0, case: 0 }, { layer: 0, head: 1, case: 0 }, { layer: 2, head: 0, case: 0 }]);
  assert.equal(sent.length, 2);
  // A wanted slice still goes out while only prefetches are in flight.
  s.get({ layer: 5, head: 5, case: 0 });
  assert.equal(sent.length, 3);
});

test("replies for another component or with an error are not cached", () => {
  const { s, sent } = source(slicesMeta);
  s.get({ layer: 0, head: 0, case: 0 });
  const [msg, buffers] = reply(sent[0], [1, 0, 0, 1]);
  s.receive({ ...msg, component: "other" }, buffers);
  assert.equal(s.cache.size, 0);
  s.get({ layer: 0, head: 1, case: 0 });
  s.receive({ type: "slice", id: sent[1].id, error: "layer: expected 0..11, got 12" }, []);
  assert.match(s.lastError, /expected 0..11/);
});
