// Where the view gets its matrices from.
// Tier "cube": the whole cube arrived once as a binary trait; slices are
// decoded from it on demand. Tier "slices": each slice is asked of the
// kernel; one request per wanted slice is in flight at a time, a newer wish
// replaces an older one that was not sent yet (dragging a slider across 12
// heads sends 2 requests, not 12), and neighbours are prefetched when idle.

import { decodeValues, maxOf } from "./decode.js";

/**
 * @typedef {{values: Float32Array, q: number, k: number, max: number, exact: boolean}} Slice
 * @typedef {{layer: number, head: number, case: number}} SliceKey  head -1 = head mean
 */

/** Keep decoded slices up to this many bytes (recently used first). */
const CACHE_BYTES = 192 * 1024 * 1024;
const MAX_PREFETCH_IN_FLIGHT = 2;

export class SliceSource {
  /**
   * @param {{send: (msg: object) => void, onReady: () => void, viewId: string}} io
   */
  constructor(io) {
    this.io = io;
    /** @type {Map<string, Slice>} */
    this.cache = new Map();
    this.cacheBytes = 0;
    /** @type {Map<string, string>} request id → slice key, for this view's requests */
    this.inFlight = new Map();
    /** @type {SliceKey | null} */
    this.waiting = null;
    this.counter = 0;
    this.meta = null;
    this.cube = null;
    this.requestsSent = 0;
  }

  /** New data (first render, new component or budget): forget everything. */
  reset(meta, cube, component) {
    this.meta = meta;
    this.component = component;
    this.lastError = null;
    this.cube = cube && cube.byteLength ? cube : null;
    this.cache.clear();
    this.cacheBytes = 0;
    this.inFlight.clear();
    this.waiting = null;
  }

  keyOf(s) {
    return `${s.layer}/${s.head}/${s.case}`;
  }

  /**
   * The slice if it is here; otherwise null, and it is on its way.
   * @param {SliceKey} want
   * @returns {Slice | null}
   */
  get(want) {
    const key = this.keyOf(want);
    const hit = this.cache.get(key);
    if (hit) {
      // Refresh its place in the LRU order.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    if (this.meta.tier === "cube" && this.cube) return this.store(key, this.fromCube(want));
    this.request(want, false);
    return null;
  }

  /** Slices are still on their way. */
  get loading() {
    return this.waiting !== null || [...this.inFlight.values()].some((k) => !this.cache.has(k));
  }

  fromCube(s) {
    const { n_layers: L, n_heads: H, cases, encoding } = this.meta;
    const { q, k, offset } = cases[s.case];
    const head = s.head < 0 ? H : s.head;
    if (s.layer < 0 || s.layer >= L || head > H) throw new Error(`no slice ${this.keyOf(s)}`);
    const start = offset + (s.layer * (H + 1) + head) * q * k;
    const values = decodeValues(this.cube, encoding.dtype, encoding.scale, start, q * k);
    return { values, q, k, max: maxOf(values), exact: encoding.dtype === "float32" };
  }

  store(key, slice) {
    this.cache.set(key, slice);
    this.cacheBytes += slice.values.byteLength;
    for (const [old, s] of this.cache) {
      if (this.cacheBytes <= CACHE_BYTES || this.cache.size <= 2) break;
      this.cache.delete(old);
      this.cacheBytes -= s.values.byteLength;
    }
    return slice;
  }

  /** Ask the kernel for a slice; a wanted one waits if another wanted one is in flight. */
  request(want, prefetch) {
    const key = this.keyOf(want);
    if ([...this.inFlight.values()].includes(key)) return;
    const wantedInFlight = [...this.inFlight.entries()].some(([id]) => !id.endsWith("p"));
    if (!prefetch && wantedInFlight) {
      this.waiting = want;
      return;
    }
    if (prefetch && this.inFlight.size >= MAX_PREFETCH_IN_FLIGHT) return;
    const id = `${this.io.viewId}-${++this.counter}${prefetch ? "p" : ""}`;
    this.inFlight.set(id, key);
    if (!prefetch) this.waiting = null;
    this.requestsSent++;
    this.io.send({ type: "slice", id, layer: want.layer, head: want.head, case: want.case });
  }

  /** Prefetch the given neighbours while nothing wanted is pending. */
  prefetch(keys) {
    if (this.meta.tier !== "slices" || this.waiting) return;
    for (const s of keys) if (!this.cache.has(this.keyOf(s))) this.request(s, true);
  }

  /**
   * A kernel reply (broadcast to every display of the widget: cache them all).
   * @returns {boolean} whether it was a slice reply
   */
  receive(msg, buffers) {
    if (!msg || msg.type !== "slice") return false;
    const mine = this.inFlight.has(msg.id);
    this.inFlight.delete(msg.id);
    if (msg.error) this.lastError = msg.error;
    else if (this.meta && msg.component === this.component) {
      const values = decodeValues(buffers[0], msg.dtype, msg.scale, 0, msg.q * msg.k);
      const key = this.keyOf(msg);
      if (!this.cache.has(key)) {
        this.store(key, { values, q: msg.q, k: msg.k, max: maxOf(values), exact: msg.dtype === "float32" });
      }
    }
    if (mine && this.waiting) {
      const next = this.waiting;
      this.waiting = null;
      if (!this.cache.has(this.keyOf(next))) this.request(next, false);
    }
    this.io.onReady();
    return true;
  }
}
