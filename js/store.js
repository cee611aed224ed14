// The view's one state: the model's synced traits, the data they describe,
// and what only the view knows (hover, zoom window, drag box, open panels).
// Pictures and controls subscribe; changes come from the user (set) and from
// Python (the model's change events), and each reaches the subscribers once.

import { decodePayload } from "./codec.js";

/**
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {import("./codec.js").Payload} Payload
 * @typedef {{q0: number, q1: number, k0: number, k1: number}} Window
 * @typedef {{kind: "query" | "key", index: number} | {kind: "cell", q: number, k: number}} Selection
 * @typedef {{layer: number, head: number, mean: boolean, case: number, gamma: number,
 *   component: string, selection: Selection | null, large: boolean,
 *   data: Payload | null, hover: Focus, window: Window | null, box: Window | null,
 *   overview: boolean, regions: boolean, move: {dl: number, dh: number},
 *   step: number, generating: boolean, sinks: boolean, playing: boolean,
 *   atlas: string, atlasSort: boolean, likeHead: {layer: number, head: number} | null, keys: boolean}} ViewState
 *   step / generating: a generation's (0 / false for other widgets); sinks: the colour
 *   scale leaves the sink keys out; playing: the step walks on by itself; atlas: the head
 *   score the overview grid shows ("" none), atlasSort: sorted by it, likeHead: sorted by
 *   likeness to this head; keys: the list of keys (`?`) is shown
 * @typedef {keyof ViewState} Key
 * @typedef {(changed: Set<Key>, state: ViewState) => void} Listener
 * @typedef {{get: (name: string) => any, set: (name: string, value: any) => void,
 *   save_changes: () => void, on: (event: string, fn: Function) => void,
 *   off: (event: string, fn: Function) => void, send: (msg: object) => void}} Model
 */

/** Store keys that are model traits, and the trait each one is. */
export const SYNCED = /** @type {const} */ ({
  layer: "layer", head: "head", mean: "head_mean", case: "case", gamma: "gamma",
  component: "component", selection: "selection", large: "large", step: "step", atlas: "atlas",
});
/** Traits the view reads and never writes. */
const READ_ONLY = /** @type {const} */ ({ generating: "generating" });

const same = (/** @type {any} */ a, /** @type {any} */ b) =>
  a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b));

/** The head slot a slice request uses: the mean of heads is null. */
export function sliceHead(/** @type {{head: number, mean: boolean}} */ state) {
  return state.mean ? null : state.head;
}

export class Store {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<Listener>} */
    this.listeners = new Set();
    /** @type {ViewState} */
    this.state = {
      layer: 0, head: 0, mean: false, case: 0, gamma: 1, component: "", selection: null, large: false,
      data: null, hover: null, window: null, box: null, overview: false, regions: false, move: { dl: 0, dh: 0 },
      step: 0, generating: false, sinks: false, playing: false, atlas: "", atlasSort: false, likeHead: null,
      keys: false,
    };
    const traits = { ...SYNCED, ...READ_ONLY };
    // A trait the model lacks (a widget that is not a generation) keeps the default.
    for (const [key, trait] of Object.entries(traits)) {
      const value = model.get(trait);
      if (value !== undefined) /** @type {any} */ (this.state)[key] = value;
    }
    this.state.data = decodePayload(model.get("_payload"));
    /** @type {[string, () => void][]} */
    this.handlers = [];
    for (const [key, trait] of Object.entries(traits)) {
      this.handlers.push([`change:${trait}`, () => this.apply({ [key]: model.get(trait) })]);
    }
    this.handlers.push(["change:_payload", () => this.apply({ data: decodePayload(model.get("_payload")) })]);
    for (const [event, fn] of this.handlers) model.on(event, fn);
  }

  /**
   * A change the user made: synced keys go to the model (and to Python), the
   * rest stay in the view. The way the layer or head moved is remembered:
   * prefetching looks further that way.
   * @param {Partial<ViewState>} patch
   */
  set(patch) {
    const s = this.state;
    const dl = "layer" in patch ? Math.sign(/** @type {number} */ (patch.layer) - s.layer) : 0;
    const dh = "head" in patch ? Math.sign(/** @type {number} */ (patch.head) - s.head) : 0;
    const full = dl || dh ? { ...patch, move: { dl, dh } } : patch;
    const changed = this.apply(full);
    const synced = [...changed].filter((key) => key in SYNCED);
    for (const key of synced) this.model.set(SYNCED[/** @type {keyof typeof SYNCED} */ (key)], /** @type {any} */ (s)[key]);
    if (synced.length) this.model.save_changes();
  }

  /**
   * Take in a patch, with what follows from it, and tell the subscribers once.
   * @param {Partial<ViewState>} patch
   * @returns {Set<Key>} what changed
   */
  apply(patch) {
    /** @type {Set<Key>} */
    const changed = new Set();
    const s = /** @type {any} */ (this.state);
    const put = (/** @type {Key} */ key, /** @type {any} */ value) => {
      if (same(s[key], value)) return;
      s[key] = value;
      changed.add(key);
    };
    for (const [key, value] of Object.entries(patch)) put(/** @type {Key} */ (key), value);
    // New data or another case: the old zoom and hover do not apply.
    if (changed.has("data")) {
      put("hover", null);
      put("window", null);
      put("box", null);
    }
    if (changed.has("case")) put("window", null);
    if (changed.size) for (const fn of this.listeners) fn(changed, this.state);
    return changed;
  }

  /** @param {Listener} fn @returns {() => void} unsubscribe */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispose() {
    for (const [event, fn] of this.handlers) this.model.off(event, fn);
    this.listeners.clear();
  }
}
