// One paint's worth of what every picture reads: the state, the slice, the
// theme and sizes, the labels, the focus, and the shared colour scale. Built
// once per animation frame from the store, so pictures never disagree.

import { buildLut, COLORMAPS } from "./colormap.js";
import { truncateLabel } from "./geometry.js";
import { widestLabel, fontOf } from "./draw.js";
import { readTheme } from "./theme.js";
import { shownFocus } from "./pointer.js";
import { sliceHead } from "./store.js";

/**
 * @typedef {import("./codec.js").Header} Header
 * @typedef {import("./codec.js").SliceId} SliceId
 * @typedef {import("./codec.js").Tile} Tile
 * @typedef {import("./codec.js").Overlay} Overlay
 * @typedef {import("./store.js").ViewState} ViewState
 * @typedef {import("./store.js").Window} Window
 * @typedef {import("./source.js").DataSource} DataSource
 * @typedef {{queryLabels: string[], keyLabels: string[], width: {query: number, key: number}}} Labels
 * @typedef {{header: Header, state: ViewState, source: DataSource, id: SliceId,
 *   full: {q: number, k: number}, whole: Window, window: Window, zoomed: boolean,
 *   theme: import("./theme.js").Theme, large: boolean, fontSize: number, maxSize: number, font: string,
 *   lut: Uint8ClampedArray, lutName: string, labels: Labels, focus: import("./lines.js").Focus,
 *   overviewTile: Tile | null, overlay: Overlay | null, max: number, blobs: Uint8Array[],
 *   fit: import("./projector.js").Fitted | null}} Frame
 *   fit: projector mode's sizes of the pictures, fitted to the room (null otherwise)
 * @typedef {{place?: (frame: Frame) => void, request: (frame: Frame) => void,
 *   paint: (frame: Frame) => boolean}} Picture
 *   A picture asks the source for what it needs in `request` (every picture's
 *   requests go out together), and draws in `paint`, which says whether it
 *   drew everything (false: still loading).
 */

const LUTS = { viridis: buildLut(COLORMAPS.viridis), projector: buildLut(COLORMAPS.projector) };

/** Token labels of a case, truncated, with their widest rendered width (kept per case and font). */
export class LabelCache {
  constructor() {
    /** @type {Map<string, Labels>} */
    this.cache = new Map();
  }

  clear() {
    this.cache.clear();
  }

  /** @param {Header} header @param {number} caseIndex @param {string} font @param {HTMLCanvasElement} canvas */
  get(header, caseIndex, font, canvas) {
    const key = `${caseIndex}|${font}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const queryLabels = header.query_tokens[caseIndex].map((t) => truncateLabel(t));
      const keyLabels = header.tokens[caseIndex].map((t) => truncateLabel(t));
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
      const width = { query: widestLabel(ctx, queryLabels, font), key: widestLabel(ctx, keyLabels, font) };
      hit = { queryLabels, keyLabels, width };
      this.cache.set(key, hit);
    }
    return hit;
  }
}

/**
 * The frame of the current state; `overviewTile`, `overlay` and `max` are
 * filled in by {@link shareScale} once the pictures have asked for theirs.
 * @param {ViewState} state
 * @param {Header} header
 * @param {DataSource} source
 * @param {{root: HTMLElement, labels: LabelCache, canvas: HTMLCanvasElement}} env
 * @returns {Frame}
 */
export function buildFrame(state, header, source, env) {
  const large = !!state.large;
  // Projector mode: large type, thick lines and a high-contrast colour map.
  const lutName = large ? "projector" : "viridis";
  const fontSize = large ? 18 : 11;
  const maxSize = large ? 560 : 440;
  const theme = readTheme(env.root);
  const font = fontOf(fontSize, theme.font);
  const c = header.cases[state.case];
  const full = { q: c.q, k: c.k };
  const whole = { q0: 0, q1: full.q, k0: 0, k1: full.k };
  return {
    header, state, source,
    id: { layer: state.layer, head: sliceHead(state), case: state.case },
    full, whole, window: state.window || whole, zoomed: !!state.window,
    theme, large, fontSize, maxSize, font, lut: LUTS[lutName], lutName,
    labels: env.labels.get(header, state.case, font, env.canvas),
    focus: shownFocus(state.selection, state.hover) || stepFocus(header, state.step),
    overviewTile: null, overlay: null, max: 0,
    blobs: state.data ? state.data.blobs : [],
    fit: null,
  };
}

/**
 * A generation's current step as a focus: the query row that wrote its token.
 * @param {Header} header @param {number} step
 * @returns {import("./lines.js").Focus}
 */
export function stepFocus(header, step) {
  const gen = header.generation;
  if (!gen || !(step >= 1) || step > gen.rows.length) return null;
  const row = gen.rows[step - 1];
  const c = header.cases[0];
  return c && row < c.q ? { kind: "query", index: row } : null;
}

/** The keys the sink toggle leaves out of the colour scale (the first token). @param {Header} header */
export function sinkKeys(header) {
  return header.sinks || [0];
}

/**
 * The colour scale every picture shares: the slice maximum (a max pool keeps
 * it in the overview tile), or an analysis view's overlay scale.
 * @param {Frame} frame
 * @returns {boolean} whether it is known yet
 */
export function shareScale(frame) {
  const { source, id, whole, maxSize, header, state } = frame;
  const exclude = state.sinks ? sinkKeys(header) : undefined;
  frame.overviewTile = source.tile({ ...id, ...whole, rows: maxSize, cols: maxSize, exclude });
  frame.overlay = header.analysis ? source.overlay(id) : null;
  if (!frame.overviewTile || (header.analysis && !frame.overlay)) return false;
  const tile = frame.overviewTile;
  // With the sinks left out, a sink cell is off the top of the scale (drawn at its top colour).
  frame.max = frame.overlay ? frame.overlay.scaleMax : exclude && tile.restMax !== undefined ? tile.restMax : tile.max;
  return true;
}
