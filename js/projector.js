// Projector mode fits the room: the view's pictures (heatmap, token lines,
// and the text, image or audio picture where there is one) are laid out to
// be in view at once in the widget's visible area, side by side or stacked,
// and scaled (never the type: labels keep their size; a picture shows fewer
// labels or scrolls instead). This module measures the area and the parts
// around the pictures, asks fit.js for the layout, and places the pictures
// on the views' grid. A change of the area (window, output width) repaints.

import { fitPictures, wrappedHeight, grow } from "./fit.js";
import { heatmapLayout, linesLayout } from "./geometry.js";
import { heatmapOptions } from "./heatmap.js";
import { linesOptions, linesGap } from "./linesview.js";
import { imageLayout, LARGE_IMAGE_SIDE } from "./imageview.js";
import { audioLayout, LARGE_STRIP_WIDTH } from "./audioview.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./fit.js").FitItem} FitItem
 * @typedef {{rows: string[][], t: number, fits: boolean, box: {width: number, height: number},
 *   heat: number, lines: {height: number, gap: number}, text?: {width: number, canvas: number},
 *   image?: number, audio?: number, sizes: Record<string, import("./fit.js").Size>}} Fitted
 *   What the pictures read (frame.fit): the heatmap's largest matrix side, the token lines'
 *   visible column height and gap, the text panel's and its canvas's widths, the image's
 *   side and the audio strip's width.
 * @typedef {{top: number, bottom: number, stepbar: {widths: number[], height: number},
 *   choices: {w: number, h: number}, caption: number}} Chrome
 *   The parts around the pictures, as measured: above the views, below them (root padding),
 *   the generation's step bar and choices, a picture's caption. (Projector mode hides the
 *   links bar above the token lines: the lines panel is the lines canvas.)
 * @typedef {{root: HTMLElement, views: HTMLElement, heat: HTMLElement, lines: {panel: HTMLElement},
 *   text: {panel: HTMLElement, bar: HTMLElement, side: HTMLElement, heightFor: (f: Frame, w: number) => number},
 *   image: {panel: HTMLElement, caption: HTMLElement}, audio: {panel: HTMLElement, caption: HTMLElement}}} Parts
 */

/** Gap between pictures (the views' CSS gap in projector mode). */
export const GAP = 16;
/** Smallest readable sizes of the fitted pictures (scale 0)... */
export const MIN_MATRIX = 140;
export const MIN_LINES_ROWS = 6;
export const MIN_GAP = 140;
export const MIN_TEXT_WIDTH = 360;
export const MIN_IMAGE_SIDE = 160;
export const MIN_STRIP = 300;
/** ...and the last resort (scale -1), for a room too small: all still in view, fewer labels. */
export const FLOOR = { matrix: 90, rows: 4, gap: 100, text: 280, image: 100, strip: 200 };
/** The text canvas's preferred width; the choices sit beside it when the panel has room. */
export const TEXT_WIDTH = 640;
const MIN_TEXT_CANVAS = 300;
/** The notebook's own scroll pane in JupyterLab and Notebook 7: the visible area. */
const PANES = ".jp-WindowedPanel-outer, .jp-Notebook";

/**
 * The height of the area the widget is seen in: the notebook's scroll pane
 * (JupyterLab, Notebook 7), else the window. In a frame (a notebook that puts
 * each output in an iframe sized to its content, where the frame's height
 * would follow ours) the screen's, less the browser and notebook around it.
 * @param {HTMLElement} root
 */
export function visibleHeight(root) {
  const pane = root.closest(PANES);
  if (pane && pane.clientHeight > 0) return Math.min(pane.clientHeight, window.innerHeight);
  let framed = false;
  try {
    framed = window.self !== window.top;
  } catch {
    framed = true;
  }
  return framed ? Math.max(360, screen.availHeight - 200) : window.innerHeight;
}

/** @param {Element} el */
function box(el) {
  const r = el.getBoundingClientRect();
  return { w: r.width, h: r.height };
}

/** Widths of the shown children of a wrapping bar, and its tallest child. @param {HTMLElement} bar */
function barItems(bar) {
  const items = /** @type {HTMLElement[]} */ (Array.from(bar.children)).filter((c) => c.offsetParent !== null);
  return { widths: items.map((c) => Math.ceil(box(c).w)), height: Math.max(0, ...items.map((c) => Math.ceil(box(c).h))) };
}

export class ProjectorFit {
  /**
   * @param {Parts} parts
   * @param {() => void} repaint
   */
  constructor(parts, repaint) {
    this.parts = parts;
    this.repaint = repaint;
    /** @type {string} the area and parts the last fit was made for */
    this.key = "";
    this.refits = 0;
    this.onResize = () => {
      if (this.key && this.areaKey() !== this.key.split("|")[0]) repaint();
    };
    window.addEventListener("resize", this.onResize);
    this.observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(this.onResize);
    this.observed = /** @type {Element | null} */ (null);
  }

  /** Follow the output area's size (its width, and the pane's height) once the view is in the page. */
  observe() {
    const { root } = this.parts;
    const host = root.parentElement;
    if (!this.observer || !host || this.observed === host) return;
    this.observer.observe(host);
    const pane = root.closest(PANES);
    if (pane) this.observer.observe(pane);
    this.observed = host;
  }

  /** The box the views may fill, below the controls. @param {Chrome} chrome */
  area(chrome) {
    const { views, root } = this.parts;
    return {
      width: Math.floor(views.clientWidth),
      height: Math.floor(visibleHeight(root) - chrome.top - chrome.bottom - 2),
    };
  }

  areaKey() {
    const { views, root } = this.parts;
    return `${views.clientWidth}x${visibleHeight(root)}`;
  }

  /** @returns {Chrome} */
  measure() {
    const { root, views, text, image, audio } = this.parts;
    const r = root.getBoundingClientRect();
    const v = views.getBoundingClientRect();
    const pad = parseFloat(getComputedStyle(root).paddingBottom) || 0;
    const caption = Math.max(box(image.caption).h, box(audio.caption).h);
    return {
      top: Math.ceil(v.top - r.top), bottom: Math.ceil(pad),
      stepbar: barItems(text.bar),
      choices: { w: Math.ceil(box(text.side).w), h: Math.ceil(box(text.side).h) }, caption: Math.ceil(caption),
    };
  }

  /**
   * The fitted sizes for this frame (null outside projector mode), and the
   * pictures placed on the views' grid.
   * @param {Frame} f
   * @returns {Fitted | null}
   */
  plan(f) {
    if (!f.large) {
      this.key = "";
      this.place(null);
      delete this.parts.root.dataset.fit;
      return null;
    }
    this.observe();
    const chrome = this.measure();
    const area = this.area(chrome);
    const items = fitItems(f, chrome, this.parts);
    const fit = fitPictures(items.list, area, GAP);
    const fitted = items.read(fit, area);
    this.key = `${this.areaKey()}|${JSON.stringify(chrome)}`;
    this.place(fit.rows);
    const round = (/** @type {number} */ v) => Math.round(v);
    const sizes = Object.fromEntries(Object.entries(fit.sizes).map(([name, s]) => [name, [round(s.w), round(s.h)]]));
    this.parts.root.dataset.fit = JSON.stringify({ rows: fit.rows, t: Math.round(fit.t * 1000) / 1000, fits: fit.fits, box: area, sizes, chrome });
    return fitted;
  }

  /**
   * After a paint: the parts around the pictures may have changed (a caption or the
   * generation's choices came); fit again if so (a few times at most in a row).
   * @returns {boolean} whether another paint is needed
   */
  settle() {
    if (!this.key) return false;
    const now = `${this.areaKey()}|${JSON.stringify(this.measure())}`;
    if (now === this.key) {
      this.refits = 0;
      return false;
    }
    this.refits++;
    return this.refits <= 3;
  }

  /** Put each picture in its row and column of the grid (null: the flowing layout). @param {string[][] | null} rows */
  place(rows) {
    const { heat, lines, text, image, audio } = this.parts;
    /** @type {Record<string, HTMLElement>} */
    const els = { heat, lines: lines.panel, text: text.panel, image: image.panel, audio: audio.panel };
    for (const el of Object.values(els)) {
      el.style.gridRow = "";
      el.style.gridColumn = "";
    }
    if (!rows) return;
    const columns = Math.max(...rows.map((row) => row.length));
    rows.forEach((row, r) => {
      row.forEach((name, c) => {
        const el = els[name];
        el.style.gridRow = String(r + 1);
        // The last of a row spans the columns left, so that rows need not line up.
        el.style.gridColumn = c === row.length - 1 ? `${c + 1} / ${columns + 1}` : String(c + 1);
      });
    });
  }

  dispose() {
    window.removeEventListener("resize", this.onResize);
    if (this.observer) this.observer.disconnect();
  }
}

/**
 * The pictures of this frame as fit items, and how to read a fit back as sizes.
 * @param {Frame} f @param {Chrome} chrome @param {Parts} parts
 */
export function fitItems(f, chrome, parts) {
  const { fontSize, labels, header } = f;
  /** @type {FitItem[]} */
  const list = [];
  // The heatmap: its matrix side, up to every cell at its largest (labels thin out as cells shrink).
  const w = f.window;
  const heatAt = (/** @type {number} */ side) => heatmapLayout(heatmapOptions(w, labels.width, fontSize, side));
  const longestCells = Math.max(w.q1 - w.q0, w.k1 - w.k0);
  const matrixPref = Math.min(f.maxSize, Math.max(28, fontSize * 2.2) * longestCells);
  const matrix = (/** @type {number} */ t) => grow(FLOOR.matrix, MIN_MATRIX, matrixPref, t);
  list.push({ name: "heat", size: (t) => dims(heatAt(matrix(t))) });

  // The token lines: every row at its smallest pitch is preferred, fewer rows scroll;
  // more height spreads the rows out.
  const full = f.full;
  const longest = Math.max(full.q, full.k);
  const minRow = fontSize + 3;
  const maxRow = Math.max(22, fontSize * 1.8);
  const column = (/** @type {number} */ t) => grow(FLOOR.rows * minRow, MIN_LINES_ROWS * minRow, longest * minRow, t);
  const gap = (/** @type {number} */ t) => grow(FLOOR.gap, MIN_GAP, linesGap(fontSize), t);
  const linesAt = (/** @type {number} */ height, /** @type {number} */ t) =>
    dims(linesLayout(linesOptions({ nq: full.q, nk: full.k, labelWidth: labels.width, fontSize, maxSize: height, gap: gap(t) })));
  list.push({
    name: "lines",
    size: (t) => linesAt(column(t), t),
    stretch: (height, t) => linesAt(Math.max(column(t), Math.min(longest * maxRow, height - 20)), t),
  });

  // The generation's text takes the width its row leaves (the wider, the shorter);
  // the choices sit beside the text when there is room, else below it.
  const gen = header.generation;
  const panelPref = TEXT_WIDTH + 12 + chrome.choices.w;
  const textAt = (/** @type {number} */ width) => {
    const beside = width - 12 - chrome.choices.w >= MIN_TEXT_CANVAS;
    const canvas = beside ? width - 12 - chrome.choices.w : width;
    const flow = parts.text.heightFor(f, canvas);
    const body = beside ? Math.max(flow, chrome.choices.h) : flow + (chrome.choices.h ? 12 + chrome.choices.h : 0);
    const bar = wrappedHeight(chrome.stepbar.widths, { width, rowHeight: chrome.stepbar.height, gapX: 12, gapY: 6 });
    return { w: width, h: (bar ? bar + 6 : 0) + body, canvas };
  };
  const textWidth = (/** @type {number} */ room, /** @type {number} */ t) =>
    Math.floor(Math.min(panelPref, Math.max(grow(FLOOR.text, MIN_TEXT_WIDTH, MIN_TEXT_WIDTH, Math.min(0, t)), room)));
  if (gen) list.push({ name: "text", fill: true, size: (t, room) => textAt(textWidth(room, t)) });

  // An image: its longer side; audio: the strip's width.
  const media = header.media;
  const image = media && media.kind === "image" && media.grid && media.size ? media : null;
  const side = (/** @type {number} */ t) => grow(FLOOR.image, MIN_IMAGE_SIDE, LARGE_IMAGE_SIDE, t);
  const captioned = (/** @type {{width: number, height: number}} */ l) => ({ w: l.width, h: l.height + 4 + chrome.caption });
  if (image) {
    const spec = { size: /** @type {number[]} */ (image.size), grid: /** @type {any} */ (image.grid) };
    list.push({ name: "image", size: (t) => captioned(imageLayout(spec, side(t))) });
  }
  const audio = media && media.kind === "audio" ? media : null;
  const positions = audio && audio.axes.includes("query") ? full.q : full.k;
  const strip = (/** @type {number} */ t) => grow(FLOOR.strip, MIN_STRIP, LARGE_STRIP_WIDTH, t);
  if (audio) list.push({ name: "audio", size: (t) => captioned(audioLayout(positions, true, strip(t))) });

  /**
   * @param {import("./fit.js").Fit} fit @param {{width: number, height: number}} area
   * @returns {Fitted}
   */
  const read = (fit, area) => {
    const t = fit.t;
    /** @type {Fitted} */
    const out = {
      rows: fit.rows, t, fits: fit.fits, box: area, sizes: fit.sizes,
      // The column the (maybe stretched) lines got: their height less the margins.
      heat: matrix(t), lines: { height: Math.max(column(t), fit.sizes.lines.h - 20), gap: gap(t) },
    };
    if (gen) out.text = { width: fit.sizes.text.w, canvas: textAt(fit.sizes.text.w).canvas };
    if (image) out.image = side(t);
    if (audio) out.audio = strip(t);
    return out;
  };
  return { list, read };
}

/** @param {{width: number, height: number}} l */
function dims(l) {
  return { w: l.width, h: l.height };
}
