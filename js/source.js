// Where the view gets what it draws; the bytes are read by codec.js.
//
// Tier "cube": the whole cube arrived once in the payload trait; slices are
// decoded from it on demand and everything is computed here.
// Tier "slices": the kernel is asked (attn_widget/serve answers):
//   tile   a window of one matrix, max-pooled to screen size
//   links  each query row's strongest keys
//   token  every weight of one token
//   thumbs a layer's heads at thumbnail size
// One wanted request per kind is in flight at a time; a newer wish replaces
// an older one that was not sent yet (dragging a slider across 12 heads sends
// 2 requests, not 12). A long tile of attention computed on demand comes
// twice under one id: an estimate at once (shown, marked refining), then the
// exact tile; a request whose estimate came no longer blocks the next wish,
// and one the view stopped wanting is cancelled (endFrame). Replies are cached (least recently used goes first)
// and neighbours are prefetched when nothing wanted is pending. When a slice
// arrives whole (an unpooled full tile), it is kept and the rest is computed
// here, as in the cube tier.

import { cubeSlice, decodeReply, maxOf, sliceKey, DATA_KINDS } from "./codec.js";
import { maxPoolWindow, maxWithout, rowTopLinks, tokenWeights } from "./pool.js";
import { topIndices } from "./lines.js";

/**
 * @typedef {import("./codec.js").SliceId} SliceId
 * @typedef {import("./codec.js").Slice} Slice
 * @typedef {import("./codec.js").Tile} Tile
 * @typedef {import("./codec.js").Header} Header
 * @typedef {import("./codec.js").Links} Links
 * @typedef {import("./codec.js").TokenWeights} TokenWeights
 * @typedef {import("./codec.js").Thumbs} Thumbs
 * @typedef {import("./codec.js").Regions} Regions
 * @typedef {import("./codec.js").Overlay} Overlay
 */

const CACHE_BYTES = 192 * 1024 * 1024;
const MAX_PREFETCH_IN_FLIGHT = 4;
/** @type {Header} */
const NO_HEADER = { components: [], component: "", n_layers: 0, n_heads: 0, n_cases: 0, cases: [],
  tokens: [], query_tokens: [], is_cross: false, tier: "cube", encoding: {}, kernel: false };

export class DataSource {
  /** @param {{send: (msg: object) => void, onReady: () => void, viewId: string}} io */
  constructor(io) {
    this.io = io;
    this.counter = 0;
    this.requestsSent = 0;
    // Set again by reset(); declared here so that every field has its type.
    /** @type {Header} */
    this.meta = NO_HEADER;
    this.component = "";
    /** @type {Uint8Array | null} */
    this.cube = null;
    /** @type {Map<string, any>} */
    this.cache = new Map();
    this.cacheBytes = 0;
    /** @type {Map<string, {key: string, kind: string, prefetch: boolean, refining?: boolean}>} id → request */
    this.inFlight = new Map();
    /** @type {Map<string, {key: string, msg: object}>} kind → newest wish not sent yet */
    this.waiting = new Map();
    /** @type {Set<string>} */
    this.frameTiles = new Set();
    /** @type {string | null} */
    this.lastError = null;
    this.reset(NO_HEADER, null);
  }

  /**
   * New data (first render, new component or budget): forget everything.
   * @param {Header} header
   * @param {Uint8Array | null} cube
   * @param {string} [component] whose replies are kept (the header's)
   */
  reset(header, cube, component = header.component) {
    this.meta = header;
    this.component = component;
    this.cube = cube && cube.byteLength ? cube : null;
    /** @type {Map<string, any>} */
    this.cache = new Map();
    this.cacheBytes = 0;
    /** @type {Map<string, {key: string, kind: string, prefetch: boolean, refining?: boolean}>} id → request */
    this.inFlight = new Map();
    /** @type {Map<string, {key: string, msg: object}>} kind → newest wish not sent yet */
    this.waiting = new Map();
    /** @type {Set<string>} the tiles this frame wants (see beginFrame / endFrame) */
    this.frameTiles = new Set();
    this.lastError = null;
  }

  /** A frame starts asking for what it draws. */
  beginFrame() {
    this.frameTiles = new Set();
  }

  /** The frame has asked for everything: exact tiles it no longer wants are cancelled. */
  endFrame() {
    for (const [id, r] of this.inFlight) {
      if (r.kind !== "tile" || !r.refining || this.frameTiles.has(r.key)) continue;
      this.inFlight.delete(id);
      this.io.send({ type: "cancel", id });
    }
  }

  get local() {
    return this.meta.tier === "cube" && this.cube !== null;
  }

  /**
   * The whole slice, when it is here (cube tier, or it came whole from the kernel).
   * @param {SliceId} id
   * @returns {Slice | null}
   */
  fullSlice(id) {
    const key = `full/${sliceKey(id)}`;
    const hit = this.touch(key);
    if (hit || !this.local || !this.cube) return hit;
    return this.store(key, cubeSlice(this.meta, this.cube, id));
  }

  /**
   * A window of one slice pooled to at most rows × cols values; null while it is on its way.
   * @param {SliceId & {q0: number, q1: number, k0: number, k1: number, rows: number, cols: number,
   *   exclude?: number[]}} want  exclude: keys left out of `restMax` (attention sinks)
   * @returns {Tile | null}
   */
  tile(want, prefetch = false) {
    const full = this.fullSlice(want);
    const fq = Math.max(1, Math.ceil((want.q1 - want.q0) / want.rows));
    const fk = Math.max(1, Math.ceil((want.k1 - want.k0) / want.cols));
    const exclude = want.exclude && want.exclude.length ? want.exclude : null;
    const key = `tile/${sliceKey(want)}/${want.q0},${want.q1},${want.k0},${want.k1}/${fq},${fk}${exclude ? `/-${exclude}` : ""}`;
    const hit = this.touch(key);
    if (hit) return hit;
    if (full) {
      const w = { q0: want.q0, q1: want.q1, k0: want.k0, k1: want.k1 };
      const pooled = maxPoolWindow(full.values, full.k, w, fq, fk);
      const restMax = exclude ? maxWithout(full.values, full.k, w, exclude) : undefined;
      return this.store(key, { ...pooled, ...w, fq, fk, max: maxOf(pooled.values), exact: full.exact, restMax });
    }
    /** @type {Record<string, any>} */
    const msg = { type: "tile", layer: want.layer, head: want.head, case: want.case,
      q0: want.q0, q1: want.q1, k0: want.k0, k1: want.k1, rows: want.rows, cols: want.cols };
    if (exclude) msg.exclude = exclude;
    if (!prefetch) this.frameTiles.add(key);
    const estimate = this.touch(`estimate/${key}`);
    const asked = this.ask(key, msg, prefetch);
    return estimate || asked;
  }

  /**
   * Every head's weight of one cell (query q, key k): how much each head gives, say, a sink.
   * @param {{layer: number, case: number, q: number, k: number}} want
   * @param {boolean} [prefetch] asked ahead of the user (the kernel serves it after the rest)
   * @returns {TokenWeights | null}
   */
  cellheads(want, prefetch = false) {
    const key = `cellheads/${want.layer}/${want.case}/${want.q},${want.k}`;
    const hit = this.touch(key);
    if (hit) return hit;
    if (this.local) {
      const values = new Float32Array(this.meta.n_heads);
      for (let h = 0; h < values.length; h++) {
        const full = /** @type {Slice} */ (this.fullSlice({ layer: want.layer, head: h, case: want.case }));
        values[h] = full.values[want.q * full.k + want.k];
      }
      return this.store(key, { values });
    }
    return this.ask(key, { type: "cellheads", layer: want.layer, case: want.case, q: want.q, k: want.k }, prefetch);
  }

  /**
   * The `top` strongest links of query rows [q0, q1).
   * @param {SliceId & {q0: number, q1: number, top: number}} want
   * @returns {Links | null}
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

  /**
   * Every weight of one token (kind "query": its row; "key": its column).
   * @param {SliceId & {kind: "query" | "key", index: number}} want
   * @param {boolean} [prefetch] asked ahead of the user (the kernel serves it after the rest)
   * @returns {TokenWeights | null}
   */
  token(want, prefetch = false) {
    const key = `token/${sliceKey(want)}/${want.kind}/${want.index}`;
    const hit = this.touch(key);
    if (hit) return hit;
    const full = this.fullSlice(want);
    if (full) return this.store(key, { values: tokenWeights(full.values, full.q, full.k, want.kind, want.index) });
    const msg = { type: "token", layer: want.layer, head: want.head, case: want.case, kind: want.kind, index: want.index };
    return this.ask(key, msg, prefetch);
  }

  /**
   * Each key's weight averaged over every query row (what the whole input looks at).
   * @param {SliceId} want
   * @returns {TokenWeights | null}
   */
  colmean(want) {
    const key = `colmean/${sliceKey(want)}`;
    const hit = this.touch(key);
    if (hit) return hit;
    const full = this.fullSlice(want);
    if (full) {
      const values = new Float32Array(full.k);
      for (let q = 0; q < full.q; q++) for (let k = 0; k < full.k; k++) values[k] += full.values[q * full.k + k];
      for (let k = 0; k < full.k; k++) values[k] /= full.q;
      return this.store(key, { values });
    }
    return this.ask(key, { type: "colmean", layer: want.layer, head: want.head, case: want.case }, false);
  }

  /**
   * Every head's scores of one case (the atlas), JSON from the kernel; null while on its way.
   * @param {{case: number}} want
   * @returns {{scores: any} | null}
   */
  scores(want) {
    const key = `scores/${want.case}`;
    return this.touch(key) || this.ask(key, { type: "scores", case: want.case }, false);
  }

  /**
   * Every head ranked by likeness to one head: [[layer, head, similarity], ...].
   * @param {{layer: number, head: number, case: number}} want
   * @returns {{ranks: number[][]} | null}
   */
  similar(want) {
    const key = `similar/${want.layer}/${want.head}/${want.case}`;
    return this.touch(key) || this.ask(key, { type: "similar", ...want }, false);
  }

  /**
   * Analysis overlay channels of one slice (compare, stability, evolution), or null.
   * @param {SliceId} want
   * @returns {Overlay | null}
   */
  overlay(want) {
    const key = `overlay/${sliceKey(want)}`;
    const hit = this.touch(key);
    if (hit) return hit;
    return this.ask(key, { type: "overlay", layer: want.layer, head: want.head, case: want.case }, false);
  }

  /**
   * Detected regions of one slice: [[top, left, bottom, right], ...] half-open, strongest first.
   * @param {SliceId} want
   * @returns {Regions | null}
   */
  regions(want) {
    const key = `regions/${sliceKey(want)}`;
    const hit = this.touch(key);
    if (hit) return hit;
    return this.ask(key, { type: "regions", layer: want.layer, head: want.head, case: want.case }, false);
  }

  /**
   * Thumbnails of every head of one layer: values (heads, rows, cols), or null.
   * @param {{layer: number, case: number, size: number}} want
   * @returns {Thumbs | null}
   */
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
        const full = /** @type {Slice} */ (this.fullSlice({ layer: want.layer, head: h, case: want.case }));
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
    const busy = [...this.inFlight.values()].some((r) => r.kind === kind && !r.prefetch && !r.refining);
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
    if (!msg || !DATA_KINDS.includes(msg.type)) return false;
    const request = this.inFlight.get(msg.id);
    if (!request) return true;
    if (msg.estimate && !msg.error) {
      // The exact tile follows under the same id; the estimate stands in until then.
      if (msg.component === this.component) this.store(`estimate/${request.key}`, decodeReply(msg, buffers, this.meta));
      request.refining = true;
    } else {
      this.inFlight.delete(msg.id);
      if (msg.error) this.lastError = msg.error;
      else if (msg.component === this.component && !msg.cancelled) this.keep(request.key, msg, buffers);
    }
    const next = this.waiting.get(msg.type);
    if (next) {
      this.waiting.delete(msg.type);
      if (!this.cache.has(next.key)) this.ask(next.key, next.msg, false);
    }
    this.io.onReady();
    return true;
  }

  /** Keep a reply, decoded; a whole unpooled tile is also kept as its full slice. */
  keep(key, msg, buffers) {
    const value = decodeReply(msg, buffers, this.meta);
    this.store(key, value);
    if (msg.type !== "tile") return;
    const tile = /** @type {Tile} */ (value);
    const c = this.meta.cases[msg.case];
    const whole = c && tile.fq === 1 && tile.fk === 1 && tile.q0 === 0 && tile.k0 === 0 && tile.q1 === c.q && tile.k1 === c.k;
    if (whole) this.store(`full/${sliceKey(msg)}`, { values: tile.values, q: c.q, k: c.k, max: tile.max, exact: tile.exact });
  }
}

function sizeOf(value) {
  let bytes = 64;
  for (const v of Object.values(value)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
  return bytes;
}
