import { test } from "node:test";
import assert from "node:assert/strict";
import { Store, sliceHead } from "../store.js";

/** A model as anywidget hands it over: traits, change events, save_changes. */
function fakeModel(traits) {
  const state = { layer: 0, head: 0, head_mean: false, case: 0, gamma: 1, component: "attention",
    selection: null, large: false, _payload: null, ...traits };
  const listeners = new Map();
  const saved = [];
  return {
    saved,
    get: (name) => state[name],
    set(name, value) {
      if (state[name] === value) return;
      state[name] = value;
      for (const fn of listeners.get(`change:${name}`) || []) fn();
    },
    save_changes() { saved.push({ ...state }); },
    on(event, fn) { listeners.set(event, [...(listeners.get(event) || []), fn]); },
    off(event, fn) { listeners.set(event, (listeners.get(event) || []).filter((f) => f !== fn)); },
    send() {},
    /** A change coming from Python. */
    python(name, value) { this.set(name, value); },
  };
}

test("a user's change reaches the model once and the subscribers once", () => {
  const model = fakeModel();
  const store = new Store(model);
  const seen = [];
  store.subscribe((changed) => seen.push([...changed].sort()));
  store.set({ layer: 2, head: 1 });
  assert.equal(model.get("layer"), 2);
  assert.equal(model.get("head"), 1);
  assert.equal(model.saved.length, 1);
  assert.deepEqual(seen, [["head", "layer", "move"]]);
  assert.deepEqual(store.state.move, { dl: 1, dh: 1 });
});

test("a Python change reaches the subscribers; an unchanged value is not news", () => {
  const model = fakeModel();
  const store = new Store(model);
  const seen = [];
  store.subscribe((changed) => seen.push([...changed]));
  model.python("gamma", 2);
  model.python("selection", { kind: "query", index: 1 });
  store.set({ gamma: 2 });
  assert.deepEqual(seen, [["gamma"], ["selection"]]);
  assert.equal(store.state.gamma, 2);
  assert.deepEqual(store.state.selection, { kind: "query", index: 1 });
  assert.equal(model.saved.length, 0);
});

test("the view's own state never reaches the model; the mean is the head slot null", () => {
  const model = fakeModel();
  const store = new Store(model);
  store.set({ hover: { kind: "key", index: 3 }, overview: true, mean: true });
  assert.equal(model.get("head_mean"), true);
  assert.equal(model.get("hover"), undefined);
  assert.equal(sliceHead(store.state), null);
  assert.equal(sliceHead({ head: 4, mean: false }), 4);
});

test("another case or new data drops the zoom; new data drops the hover", () => {
  const model = fakeModel();
  const store = new Store(model);
  const window = { q0: 0, q1: 2, k0: 0, k1: 2 };
  store.apply({ window, hover: { kind: "query", index: 0 } });
  model.python("case", 1);
  assert.equal(store.state.window, null);
  assert.deepEqual(store.state.hover, { kind: "query", index: 0 });
  store.apply({ window });
  store.apply({ data: { header: {}, cube: null } });
  assert.equal(store.state.window, null);
  assert.equal(store.state.hover, null);
});

test("dispose stops listening to the model", () => {
  const model = fakeModel();
  const store = new Store(model);
  let calls = 0;
  store.subscribe(() => calls++);
  store.dispose();
  model.python("layer", 3);
  assert.equal(calls, 0);
});
