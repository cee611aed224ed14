// Where the view gets what it draws.
//
// Tier "cube": the whole cube arrived once as a binary trait; slices are
// decoded from it on demand and everything is computed here.
// Tier "slices": the kernel is asked (attn_widget/widget.py answers):
//   tile   a window of one matrix, max-pooled to screen size
//   links  each query row's strongest keys
//   token  every weight of one token
//   thumbs a layer's heads at thumbnail size
// One wanted request per kind is in flight at a time; a newer wish replaces
// an older one that was not sent yet (dragging a slider across 12 heads sends
// 2 requests, not 12). Replies are cached (least recently used goes first)
// and neighbours are prefetched when nothing wanted is pending. When a slice
// arrives whole (an unpooled full tile), it is kept and the rest is computed
// here, as in the cube tier.

import { decodeValues, maxOf } from "./decode.js";
import { maxPoolWindow, rowTopLinks, tokenWeights } from "./pool.js";
import { topIndices } from "./lines.js";

/**
 * @typedef {{layer: number, head: number, case: number}} SliceId  head -1 = head mean
 * @typedef {{values: Float32Array, q: number, k: number, max: number, exact: boolean}} Slice
 * @typedef {{values: Float32Array, rows: number, cols: number, fq: number, fk: number,
 *   q0: number, q1: number, k0: number, k1: number, max: number, exact: boolean}} Tile
 */

const CACHE_BYTES = 192 * 1024 * 1024;
const MAX_PREFETCH_IN_FLIGHT = 4;

const sliceKey = (s) => `${s.layer}/${s.head}/${s.case}`;

export class DataSource {
  /** @param {{send: (msg: object) => void, onReady: () => void, viewId: string}} io */
  constructor(io) {
    this.io = io;
    this.counter = 0;
    this.requestsSent = 0;
    this.reset({ tier: "cube", cases: [] }, null, "");
  }

  /** New data (first render, new component or budget): forget everything. */
  reset(meta, cube, component) {
    this.meta = meta;
    this.component = component;
    this.cube = cube && cube.byteLength ? cube : null;
    /** @type {Map<string, any>} */
    this.cache = new Map();
    this.cacheBytes = 0;
    /** @type {Map<string, {key: string, kind: string, prefetch: boolean}>} id → request */
    this.inFlight = new Map();
    /** @type {Map<string, {key: string, msg: object}>} kind → newest wish not sent yet */
    this.waiting = new Map();
    this.lastError = null;
  }

  get local() {
    return this.meta.tier === "cube" && this.cube !== null;
  }

  /** The whole slice, when it is here (cube tier, or it came whole from the kernel). */
  fullSlice(id) {
    const key = `full/${sliceKey(id)}`;
    const hit = this.touch(key);
    if (hit || !this.local) return hit;
    const { n_layers: L, n_heads: H, cases, encoding } = this.meta;
    const c = cases[id.case];
    const head = id.head < 0 ? H : id.head;
    if (!c || id.layer < 0 || id.layer >= L || head > H) throw new Error(`no slice ${sliceKey(id)}`);
    const start = c.offset + (id.layer * (H + 1) + head) * c.q * c.k;
    const values = decodeValues(this.cube, encoding.dtype, encoding.scale, start, c.q * c.k);
    return this.store(key, { values, q: c.q, k: c.k, max: maxOf(values), exact: encoding.dtype === "float32" });
  }

  /**
   * A window of one slice pooled to at most rows × cols values; null while it is on its way.
   * @param {SliceId & {q0: number, q1: number, k0: number, k1: number, rows: number, cols: number}} want
   * @returns {Tile | null}
   */
  tile(want, prefetch = false) {
    const full = this.fullSlice(want);
    const fq = Math.max(1, Math.ceil((want.q1 - want.q0) / want.rows));
    const fk = Math.max(1, Math.ceil((want.k1 - want.k0) / want.cols));
    const key = `tile/${sliceKey(want)}/${want.q0},${want.q1},${want.k0},${want.k1}/${fq},${fk}`;
    const hit = this.touch(key);
    if (hit) return hit;
    if (full) {
      const w = { q0: want.q0, q1: want.q1, k0: want.k0, k1: want.k1 };
      const pooled = maxPoolWindow(full.values, full.k, w, fq, fk);
      return this.store(key, { ...pooled, ...w, fq, fk, max: maxOf(pooled.values), exact: full.exact });
    }
    const msg = { type: "tile", layer: want.layer, head: want.head, case: want.case,
      q0: want.q0, q1: want.q1, k0: want.k0, k1: want.k1, rows: want.rows, cols: want.cols };
    return this.ask(key, msg, prefetch);
  }

  /**
   * The `top` strongest links of query rows [q0, q1).
   * @returns {{order: Int32Array, weights: Float32Array, width: number, q0: number, q1: number} | null}
   */
  links(want, prefetch = false) {
    const key = `links/${sliceKey(want)}/${want.q0},${want.q1}/${want.top}`;
    const hit = this.touch(key);
    if (hit) return hit;
    const full = this.fullSlice(want);
    if (full) return this.store(key, rowTopLinks(full.values, full.k, want.q0, want.q1, want.top, topIndices));
    const msg = { type: "links", layer: want.layer, head: want.head, case: want.case, q0: want.q0, q1: want.q1, top: want.top };
    return this.ask(key, msg, prefetch);
  }

  /** Every weight of one token (kind "query": its row; "key": its column). */
  token(want) {
    const key = `token/${sliceKey(want)}/${want.kind}/${want.index}`;
    const hit = this.touch(key);
    if (hit) return hit;
    const full = this.fullSlice(want);
    if (full) return this.store(key, { values: tokenWeights(full.values, full.q, full.k, want.kind, want.index) });
    const msg = { type: "token", layer: want.layer, head: want.head, case: want.case, kind: want.kind, index: want.index };
    return this.ask(key, msg, false);
  }

  /**
   * Analysis overlay channels of one slice (compare, stability, evolution), or null.
   * @returns {{kind: string, channels: Record<string, Float32Array>, k: number, steps: number, scaleMax: number} | null}
   */
  overlay(want) {
    const key = `overlay/${sliceKey(want)}`;
    const hit = this.touch(key);
    if (hit) return hit;
    return this.ask(key, { type: "overlay", layer: want.layer, head: want.head, case: want.case }, false);
  }

  /** Detected regions of one slice: [[top, left, bottom, right], ...] half-open, strongest first. */
  regions(want) {
    const key = `regions/${sliceKey(want)}`;
    const hit = this.touch(key);
    if (hit) return hit;
    return this.ask(key, { type: "regions", layer: want.layer, head: want.head, case: want.case }, false);
  }

  /** Thumbnails of every head of one layer: values (heads, rows, cols), or null. */
  thumbs(want) {
    const key = `thumbs/${want.layer}/${want.case}/${want.size}`;
    const hit = this.touch(key);
    if (hit) return hit;
    if (this.local) {
      const heads = this.meta.n_heads;
      const parts = [];
      let rows = 0;
      let cols = 0;
      for (let h = 0; h < heads; h++) {
        const full = this.fullSlice({ layer: want.layer, head: h, case: want.case });
        const fq = Math.max(1, Math.ceil(full.q / want.size));
        const fk = Math.max(1, Math.ceil(full.k / want.size));
        const p = maxPoolWindow(full.values, full.k, { q0: 0, q1: full.q, k0: 0, k1: full.k }, fq, fk);
        parts.push(p.values);
        rows = p.rows;
        cols = p.cols;
      }
      const values = new Float32Array(heads * rows * cols);
      parts.forEach((p, h) => values.set(p, h * rows * cols));
      return this.store(key, { values, heads, rows, cols });
    }
    // Layers of thumbnails come one request at a time, in the order asked.
    return this.ask(key, { type: "thumbs", layer: want.layer, case: want.case, size: want.size }, false);
  }

  touch(key) {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit || null;
  }

  store(key, value) {
    this.cache.set(key, value);
    this.cacheBytes += sizeOf(value);
    for (const [old, v] of this.cache) {
      if (this.cacheBytes <= CACHE_BYTES || this.cache.size <= 4) break;
      this.cache.delete(old);
      this.cacheBytes -= sizeOf(v);
    }
    return value;
  }

  /** Send a request, or remember it as the newest wish of its kind. */
  ask(key, msg, prefetch) {
    for (const r of this.inFlight.values()) if (r.key === key) return null;
    const kind = msg.type;
    const busy = [...this.inFlight.values()].some((r) => r.kind === kind && !r.prefetch);
    if (!prefetch && busy) {
      this.waiting.set(kind, { key, msg });
      return null;
    }
    if (prefetch && (this.inFlight.size >= MAX_PREFETCH_IN_FLIGHT || this.waiting.size)) return null;
    if (!prefetch) this.waiting.delete(kind);
    const id = `${this.io.viewId}-${++this.counter}`;
    this.inFlight.set(id, { key, kind, prefetch });
    this.requestsSent++;
    // The kernel lets a request the view waits for go before its warm-up work.
    this.io.send(prefetch ? { ...msg, id, prefetch: true } : { ...msg, id });
    return null;
  }

  /**
   * A kernel reply (broadcast to every display of the widget; only ours are kept).
   * @returns {boolean} whether it was a data reply
   */
  receive(msg, buffers) {
    if (!msg || !["tile", "links", "token", "thumbs", "overlay", "regions"].includes(msg.type)) return false;
    const request = this.inFlight.get(msg.id);
    if (!request) return true;
    this.inFlight.delete(msg.id);
    if (msg.error) this.lastError = msg.error;
    else if (msg.component === this.component) this.keep(request.key, msg, buffers);
    const next = this.waiting.get(msg.type);
    if (next) {
      this.waiting.delete(msg.type);
      if (!this.cache.has(next.key)) this.ask(next.key, next.msg, false);
    }
    this.io.onReady();
    return true;
  }

  keep(key, msg, buffers) {
    if (msg.type === "tile") {
      const values = decodeValues(buffers[0], msg.dtype, msg.scale, 0, msg.rows * msg.cols);
      const exact = msg.dtype === "float32";
      const tile = { values, rows: msg.rows, cols: msg.cols, fq: msg.fq, fk: msg.fk,
        q0: msg.q0, q1: msg.q1, k0: msg.k0, k1: msg.k1, max: maxOf(values), exact };
      this.store(key, tile);
      const c = this.meta.cases[msg.case];
      const whole = c && msg.fq === 1 && msg.fk === 1 && msg.q0 === 0 && msg.k0 === 0 && msg.q1 === c.q && msg.k1 === c.k;
      if (whole) this.store(`full/${sliceKey(msg)}`, { values, q: c.q, k: c.k, max: tile.max, exact });
    } else if (msg.type === "links") {
      const n = (msg.q1 - msg.q0) * msg.width;
      const order = new Int32Array(copyBytes(buffers[0], n * 4));
      const weights = decodeValues(buffers[1], msg.dtype, msg.scale, 0, n);
      this.store(key, { order, weights, width: msg.width, q0: msg.q0, q1: msg.q1 });
    } else if (msg.type === "regions") {
      this.store(key, { rects: msg.regions });
    } else if (msg.type === "overlay") {
      /** @type {Record<string, Float32Array>} */
      const channels = {};
      msg.channels.forEach((name, i) => {
        const count = name === "series" || name === "values" ? msg.q * msg.k * msg.steps : msg.q * msg.k;
        channels[name] = decodeValues(buffers[i], "float32", 1, 0, count);
      });
      this.store(key, { kind: msg.kind, channels, k: msg.k, steps: msg.steps || 0, scaleMax: msg.scale_max });
    } else if (msg.type === "token") {
      this.store(key, { values: decodeValues(buffers[0], msg.dtype, msg.scale, 0, msg.count) });
    } else {
      const heads = this.meta.n_heads;
      const values = decodeValues(buffers[0], msg.dtype, msg.scale, 0, heads * msg.rows * msg.cols);
      this.store(key, { values, heads, rows: msg.rows, cols: msg.cols });
    }
  }
}

function sizeOf(value) {
  let bytes = 64;
  for (const v of Object.values(value)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
  return bytes;
}

/** An aligned copy of `length` bytes of a DataView / ArrayBuffer / typed array. */
function copyBytes(buffer, length) {
  const src = buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer, 0, length)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  return new Uint8Array(src).buffer;
}
