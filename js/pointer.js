// Pointer input as pure state: what a hover, a click and a press-drag on the
// heatmap mean (hover and lock, box zoom, pan). No DOM here: input.js feeds
// it events, and node's tests drive it directly.

import { boxWindow, cellNear, panWindow } from "./geometry.js";

/**
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {import("./store.js").Selection} Selection
 * @typedef {import("./store.js").Window} Window
 * @typedef {import("./geometry.js").HeatmapLayout} HeatmapLayout
 */

/** A press moves more than this many pixels before it is a drag, not a click. */
export const DRAG_THRESHOLD = 4;

/** @param {Focus} a @param {Focus} b */
export function sameFocus(a, b) {
  if (!a || !b) return a === b;
  if (a.kind === "cell" || b.kind === "cell") {
    return a.kind === b.kind && /** @type {any} */ (a).q === /** @type {any} */ (b).q && /** @type {any} */ (a).k === /** @type {any} */ (b).k;
  }
  return a.kind === b.kind && a.index === b.index;
}

/** The model's selection trait as a focus. @param {Selection | null} sel @returns {Focus} */
export function focusFromSelection(sel) {
  if (!sel || !sel.kind) return null;
  return sel.kind === "cell" ? { kind: "cell", q: sel.q, k: sel.k } : { kind: sel.kind, index: sel.index };
}

/** A focus as the selection trait stores it. @param {Focus} focus @returns {Selection | null} */
export function selectionFromFocus(focus) {
  if (!focus) return null;
  return focus.kind === "cell" ? { kind: "cell", q: focus.q, k: focus.k } : { kind: focus.kind, index: focus.index };
}

/** The focus the pictures show: a locked selection wins over the hover. */
export function shownFocus(/** @type {Selection | null} */ selection, /** @type {Focus} */ hover) {
  return focusFromSelection(selection) || hover;
}

/**
 * The lock after a click on `hit`: a click locks what it hits, a click on the
 * locked thing (or on nothing) unlocks.
 * @param {Focus} hit
 * @param {Selection | null} selection
 * @returns {Selection | null}
 */
export function clickSelection(hit, selection) {
  return !hit || sameFocus(hit, focusFromSelection(selection)) ? null : selectionFromFocus(hit);
}

/**
 * A press on a heatmap cell until it is released: a click, a box zoom or a pan (shift).
 * `move` says what to show meanwhile; `end` what the press did.
 */
export class Gesture {
  /**
   * @param {{x: number, y: number, start: {q: number, k: number}, pan: boolean, window: Window}} press
   */
  constructor(press) {
    this.press = press;
    this.moved = false;
    /** @type {Window | null} */
    this.box = null;
  }

  /**
   * The pointer moved to (x, y).
   * @param {number} x
   * @param {number} y
   * @param {HeatmapLayout} layout
   * @param {{q: number, k: number}} full the whole matrix
   * @returns {{box: Window | null} | {window: Window} | null} what to draw now (null: still a click)
   */
  move(x, y, layout, full) {
    const p = this.press;
    if (Math.abs(x - p.x) + Math.abs(y - p.y) > DRAG_THRESHOLD) this.moved = true;
    if (!this.moved) return null;
    if (p.pan) return { window: panWindow(p.window, (p.y - y) / layout.cell, (p.x - x) / layout.cell, full.q, full.k) };
    this.box = boxWindow(p.start, cellNear(layout, x, y));
    return { box: this.box };
  }

  /** @returns {{kind: "click"} | {kind: "zoom", window: Window} | {kind: "done"}} */
  end() {
    if (!this.moved) return { kind: "click" };
    const box = this.box;
    if (box && box.q1 - box.q0 >= 1 && box.k1 - box.k0 >= 1) return { kind: "zoom", window: box };
    return { kind: "done" };
  }
}

/** Keys that lock the next / previous token (j / k as in a pager, and the arrows). */
export const NEXT_KEYS = ["j", "ArrowDown", "ArrowRight"];
export const PREVIOUS_KEYS = ["k", "ArrowUp", "ArrowLeft"];

/**
 * The lock one token on from `selection` (`by` +1 or -1), kept in range: a
 * locked query or key moves along its axis, a cell moves to the next query
 * row; with nothing locked, the first (or last) query, or the one after
 * (before) the generation step's row.
 * @param {Selection | null} selection
 * @param {number} by
 * @param {{q: number, k: number, row?: number}} tokens  row: the generation step's query row, if any
 * @returns {Selection | null}
 */
export function stepSelection(selection, by, tokens) {
  const clamp = (/** @type {number} */ v, /** @type {number} */ n) => Math.max(0, Math.min(n - 1, v));
  if (!tokens.q || !tokens.k) return selection;
  const focus = focusFromSelection(selection);
  if (focus && focus.kind === "key") return { kind: "key", index: clamp(focus.index + by, tokens.k) };
  const at = focus ? (focus.kind === "cell" ? focus.q : focus.index) : tokens.row ?? null;
  const index = at === null ? (by > 0 ? 0 : tokens.q - 1) : clamp(at + by, tokens.q);
  return { kind: "query", index };
}

/**
 * What a key on the view stands for, or null. Layers `[` `]`, heads `,` `.`,
 * `m` the mean, `<` `>` a generation's steps, `j` / `k` (or the arrows) lock
 * the next / previous token, `?` shows the key list; zoom keys come back as
 * {zoom: factor | 0}.
 * @param {string} key
 * @param {{layer: number, head: number, mean: boolean, step?: number, selection?: Selection | null}} state
 * @param {{n_layers: number, n_heads: number, steps?: number, tokens?: {q: number, k: number, row?: number}}} header
 *   steps: a generation's; tokens: the case's query and key counts
 * @returns {{patch?: object, zoom?: number, keys?: true} | null}
 */
export function keyAction(key, state, header) {
  const clamp = (/** @type {number} */ v, /** @type {number} */ n) => Math.max(0, Math.min(n - 1, v));
  if (NEXT_KEYS.includes(key) || PREVIOUS_KEYS.includes(key)) {
    if (!header.tokens) return null;
    const selection = stepSelection(state.selection || null, NEXT_KEYS.includes(key) ? 1 : -1, header.tokens);
    return selection ? { patch: { selection } } : null;
  }
  switch (key) {
    case "]": return { patch: { layer: clamp(state.layer + 1, header.n_layers) } };
    case "[": return { patch: { layer: clamp(state.layer - 1, header.n_layers) } };
    case ".": return { patch: { head: clamp(state.head + 1, header.n_heads), mean: false } };
    case ",": return { patch: { head: clamp(state.head - 1, header.n_heads), mean: false } };
    case "m": return { patch: { mean: !state.mean } };
    case "<": case ">": {
      const total = header.steps || 0;
      if (!total) return null;
      const step = Math.max(1, Math.min(total, (state.step || 1) + (key === ">" ? 1 : -1)));
      return { patch: { step, playing: false } };
    }
    case "+": case "=": return { zoom: 0.5 };
    case "-": return { zoom: 2 };
    case "0": return { zoom: 0 };
    case "?": return { keys: true };
    default: return null;
  }
}
