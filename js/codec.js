// The one decoder of what the kernel sends: attn_widget/wire.py writes every
// layout read here, and golden buffers written by Python (js/tests/golden/)
// keep the two sides from drifting.
//
// Values: float16 (half floats times a power-of-two `scale`) or float32.
// Payload (the `_payload` trait): "AWP1", the header's byte length (uint32
// LE), the header as ASCII JSON padded to a multiple of 8, then the data: the
// cube (case after case, (layers, heads + 1, q, k) values, head `heads` being
// the mean of heads) and the blobs (raw RGB images, float32 envelopes), where
// the header's `layout` says ([offset, length] from the data's start).
// Replies: a JSON content plus binary buffers per kind. The mean of heads is
// `head: null` everywhere.

/**
 * @typedef {{q: number, k: number, offset: number}} CaseLayout
 * @typedef {{components: string[], component: string, n_layers: number, n_heads: number,
 *   n_cases: number, cases: CaseLayout[], tokens: string[][], query_tokens: string[][],
 *   is_cross: boolean, tier: "cube" | "slices", encoding: {dtype?: string, scale?: number},
 *   kernel: boolean, analysis?: {kind: string, tooltip: [string, string, number][], n: number},
 *   media?: Media, layout?: {cube: number[], blobs: number[][]}, generation?: Generation,
 *   sinks?: number[], atlas_scores?: string[]}} Header
 * @typedef {{prompt_length: number, tokens: string[], source_tokens: string[] | null, rows: number[],
 *   steps: {token: string, id: number, probability: number, top: [string, number][]}[],
 *   generating: boolean, stopped: boolean, error: string | null}} Generation
 * @typedef {{kind: "image" | "audio", axes: string[], size?: number[],
 *   grid?: {rows: number, cols: number, patch: number[]}, patches?: number[][], first?: number[],
 *   special?: Record<string, number>, query?: (number | null)[], seconds_per_position?: number,
 *   positions?: number, duration?: number[], audio_positions?: number[],
 *   envelope?: {bins: number, seconds_per_bin: number},
 *   images: {blob: number, height: number, width: number}[], envelopes: {blob: number, bins: number}[]}} Media
 * @typedef {{header: Header, cube: Uint8Array | null, blobs: Uint8Array[]}} Payload
 * @typedef {{layer: number, head: number | null, case: number}} SliceId  head null = mean of heads
 * @typedef {{values: Float32Array, q: number, k: number, max: number, exact: boolean}} Slice
 * @typedef {{values: Float32Array, rows: number, cols: number, fq: number, fk: number,
 *   q0: number, q1: number, k0: number, k1: number, max: number, exact: boolean,
 *   restMax?: number, refining?: boolean}} Tile  restMax: the largest value outside the keys
 *   asked to be left out; refining: an estimate the exact tile will replace (serve/progressive.py)
 * @typedef {{order: Int32Array, weights: Float32Array, width: number, q0: number, q1: number}} Links
 * @typedef {{values: Float32Array}} TokenWeights
 * @typedef {{values: Float32Array, heads: number, rows: number, cols: number}} Thumbs
 * @typedef {{rects: number[][]}} Regions
 * @typedef {{kind: string, channels: Record<string, Float32Array>, k: number, steps: number,
 *   scaleMax: number}} Overlay
 * @typedef {ArrayBuffer | DataView | Uint8Array} Binary
 */

/** What the view asks the kernel (attn_widget.wire.REQUEST_KINDS). */
export const DATA_KINDS = ["tile", "links", "token", "colmean", "cellheads", "thumbs", "regions", "overlay",
  "scores", "similar", "sinks"];

const MAGIC = "AWP1";
/** @type {Float32Array | null} */
let halfTable = null;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The cache key part of a slice; the mean of heads is "mean". */
export const sliceKey = (/** @type {SliceId} */ s) => `${s.layer}/${s.head === null ? "mean" : s.head}/${s.case}`;

/** Lookup table from the 65536 half-float bit patterns to their values. */
function halfToFloatTable() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    let value;
    if (exponent === 0) value = fraction * 2 ** -24;
    else if (exponent === 31) value = fraction ? NaN : Infinity;
    else value = (1 + fraction / 1024) * 2 ** (exponent - 15);
    halfTable[bits] = sign * value;
  }
  return halfTable;
}

/** @param {Binary} buffer @returns {Uint8Array} */
export function asBytes(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new Error("expected binary attention data");
}

/**
 * Decode `count` values starting at value index `start` of an encoded buffer.
 * @param {Binary} buffer
 * @param {string} dtype "float16" or "float32"
 * @param {number} scale
 * @param {number} start
 * @param {number} count
 * @returns {Float32Array}
 */
export function decodeValues(buffer, dtype, scale, start, count) {
  const bytes = asBytes(buffer);
  const out = new Float32Array(count);
  if (dtype === "float32") {
    const offset = bytes.byteOffset + start * 4;
    if (LITTLE_ENDIAN && offset % 4 === 0) {
      out.set(new Float32Array(bytes.buffer, offset, count));
      return out;
    }
    const view = new DataView(bytes.buffer, offset, count * 4);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (dtype !== "float16") throw new Error(`unknown value encoding ${dtype}`);
  const table = halfToFloatTable();
  const base = bytes.byteOffset + start * 2;
  const inv = 1 / scale;
  if (LITTLE_ENDIAN && base % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, base, count);
    for (let i = 0; i < count; i++) out[i] = table[halves[i]] * inv;
    return out;
  }
  // Little-endian half floats at an odd offset: read byte pairs.
  const u8 = new Uint8Array(bytes.buffer, base, count * 2);
  for (let i = 0; i < count; i++) out[i] = table[u8[2 * i] | (u8[2 * i + 1] << 8)] * inv;
  return out;
}

/** @param {Float32Array} values */
export function maxOf(values) {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return max;
}

/**
 * The `_payload` trait: its header and the cube it describes (null when empty).
 * @param {Binary | null | undefined} buffer
 * @returns {Payload | null} null before the kernel has sent anything
 */
export function decodePayload(buffer) {
  if (!buffer) return null;
  const bytes = asBytes(buffer);
  if (bytes.byteLength === 0) return null;
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new Error(`attn_widget: unknown data layout ${JSON.stringify(magic)}`);
  const size = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  /** @type {Header} */
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + size)));
  const data = bytes.subarray(8 + size);
  const layout = header.layout || { cube: [0, data.byteLength], blobs: [] };
  const span = (/** @type {number[]} */ [offset, length]) => data.subarray(offset, offset + length);
  const cube = span(layout.cube);
  return { header, cube: cube.byteLength ? cube : null, blobs: layout.blobs.map(span) };
}

/**
 * One whole slice from the cube.
 * @param {Header} header
 * @param {Uint8Array} cube
 * @param {SliceId} id
 * @returns {Slice}
 */
export function cubeSlice(header, cube, id) {
  const { n_layers: L, n_heads: H, cases, encoding } = header;
  const c = cases[id.case];
  const head = id.head === null ? H : id.head;
  if (!c || id.layer < 0 || id.layer >= L || head < 0 || head > H) throw new Error(`no slice ${sliceKey(id)}`);
  const start = c.offset + (id.layer * (H + 1) + head) * c.q * c.k;
  const values = decodeValues(cube, encoding.dtype || "float32", encoding.scale || 1, start, c.q * c.k);
  return { values, q: c.q, k: c.k, max: maxOf(values), exact: encoding.dtype === "float32" };
}

/** An aligned copy of `length` bytes. @param {Binary} buffer @param {number} length */
function copyBytes(buffer, length) {
  const src = asBytes(buffer).subarray(0, length);
  return new Uint8Array(src).buffer;
}

/**
 * A data reply's value, by kind (attn_widget.wire.*_reply).
 * @param {any} msg the reply's JSON content
 * @param {Binary[]} buffers
 * @param {Header} header for the thumbnails' head count
 * @returns {Tile | Links | TokenWeights | Thumbs | Regions | Overlay | {scores: any} | {ranks: number[][]} | {keys: number[][][]}}
 */
export function decodeReply(msg, buffers, header) {
  switch (msg.type) {
    case "tile": {
      const values = decodeValues(buffers[0], msg.dtype, msg.scale, 0, msg.rows * msg.cols);
      return { values, rows: msg.rows, cols: msg.cols, fq: msg.fq, fk: msg.fk,
        q0: msg.q0, q1: msg.q1, k0: msg.k0, k1: msg.k1, max: maxOf(values), exact: msg.dtype === "float32",
        restMax: msg.rest_max, refining: msg.estimate === true };
    }
    case "links": {
      const n = (msg.q1 - msg.q0) * msg.width;
      const order = new Int32Array(copyBytes(buffers[0], n * 4));
      const weights = decodeValues(buffers[1], msg.dtype, msg.scale, 0, n);
      return { order, weights, width: msg.width, q0: msg.q0, q1: msg.q1 };
    }
    case "token":
    case "colmean":
    case "cellheads":
      return { values: decodeValues(buffers[0], msg.dtype, msg.scale, 0, msg.count) };
    case "thumbs": {
      const heads = header.n_heads;
      const values = decodeValues(buffers[0], msg.dtype, msg.scale, 0, heads * msg.rows * msg.cols);
      return { values, heads, rows: msg.rows, cols: msg.cols };
    }
    case "regions":
      return { rects: msg.regions };
    case "scores":
      return { scores: msg.scores };
    case "similar":
      return { ranks: msg.ranks };
    case "sinks":
      return { keys: msg.keys };
    case "overlay": {
      /** @type {Record<string, Float32Array>} */
      const channels = {};
      msg.channels.forEach((/** @type {string} */ name, /** @type {number} */ i) => {
        const count = name === "series" || name === "values" ? msg.q * msg.k * msg.steps : msg.q * msg.k;
        channels[name] = decodeValues(buffers[i], "float32", 1, 0, count);
      });
      return { kind: msg.kind, channels, k: msg.k, steps: msg.steps || 0, scaleMax: msg.scale_max };
    }
    default:
      throw new Error(`unknown reply ${msg.type}`);
  }
}
