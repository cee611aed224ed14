// The image picture: the input image as the processor made it, its patch grid,
// and one token's attention over the patches as an overlay in the view's
// colour map and contrast. Linked like the other pictures: hovering a patch
// shows its own attention (and lights its row in the heatmap); hovering a
// heatmap cell outlines both of its patches; with nothing hovered the overlay
// is the [CLS] token's (or the mean over queries where a model has none).

import { contrast, lutColor } from "./colormap.js";
import { prepareCanvas } from "./draw.js";
import { element } from "./controls.js";
import { visibleToken } from "./geometry.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {{x0: number, y0: number, width: number, height: number, scale: number,
 *   rows: number, cols: number, ph: number, pw: number, H: number, W: number}} ImageLayout
 */

/** Largest side of the drawn image, in CSS pixels (projector mode: larger). */
export const IMAGE_SIDE = 320;
export const LARGE_IMAGE_SIDE = 420;
/** Opacity of the overlay at the top of the colour scale: the image stays readable under it. */
export const OVERLAY_ALPHA = 0.8;

/**
 * Where the image and its cells go on the canvas.
 * @param {{size: number[], grid: {rows: number, cols: number, patch: number[]}}} media
 * @param {number} side
 * @returns {ImageLayout}
 */
export function imageLayout(media, side) {
  const [H, W] = media.size;
  const scale = side / Math.max(H, W);
  const { rows, cols, patch: [ph, pw] } = media.grid;
  return { x0: 4, y0: 4, width: W * scale + 8, height: H * scale + 8, scale, rows, cols, ph, pw, H, W };
}

/**
 * The cell (row, col) of the grid at canvas point (x, y), or null.
 * @param {ImageLayout} layout @param {number} x @param {number} y
 */
export function imageCell(layout, x, y) {
  const px = (x - layout.x0) / layout.scale;
  const py = (y - layout.y0) / layout.scale;
  if (px < 0 || py < 0 || px >= layout.W || py >= layout.H) return null;
  const r = Math.floor(py / layout.ph);
  const c = Math.floor(px / layout.pw);
  return r < layout.rows && c < layout.cols ? { r, c } : null;
}

/**
 * Which token's attention the overlay shows, and along which axis.
 * A query (hovered or locked, or a cell's query) shows its row over the key
 * patches; a key shows its column over the query patches; nothing focused
 * shows the model's default query ([CLS]), or the mean over queries.
 * @param {Focus} focus
 * @param {number | null | undefined} fallback
 * @returns {{kind: "query" | "key" | "mean", index: number}}
 */
export function overlayOf(focus, fallback) {
  if (focus && focus.kind === "cell") return { kind: "query", index: focus.q };
  if (focus) return { kind: focus.kind, index: focus.index };
  return fallback === null || fallback === undefined ? { kind: "mean", index: -1 } : { kind: "query", index: fallback };
}

/** @implements {Picture} */
export class ImagePicture {
  constructor() {
    this.panel = element("div", { class: "aw-image-panel", hidden: "" });
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-image", tabindex: "0", role: "img", "aria-label": "the image, with attention over its patches" })
    );
    this.caption = element("div", { class: "aw-image-caption" });
    this.panel.append(this.canvas, this.caption);
    this.scratch = document.createElement("canvas");
    /** @type {Uint8Array | null} the image now on the scratch canvas */
    this.drawn = null;
    /** @type {ImageLayout | null} */
    this.layout = null;
    /** @type {{values: Float32Array} | null} */
    this.weights = null;
    this.shown = overlayOf(null, null);
    /** @type {number[]} token index of each cell, row-major */
    this.patches = [];
  }

  /** @param {Frame} f */
  request(f) {
    const media = f.header.media;
    this.panel.hidden = !media || media.kind !== "image" || !media.grid;
    if (this.panel.hidden || !media) return;
    this.patches = (media.patches || [])[f.state.case] || [];
    this.shown = overlayOf(f.focus, (media.query || [])[f.state.case]);
    const { kind, index } = this.shown;
    this.weights = kind === "mean" ? f.source.colmean(f.id) : f.source.token({ ...f.id, kind, index });
  }

  /** @param {Frame} f @returns {boolean} false while the weights load */
  paint(f) {
    const media = f.header.media;
    if (this.panel.hidden || !media || !media.grid || !media.size) return true;
    const side = f.fit && f.fit.image ? f.fit.image : f.large ? LARGE_IMAGE_SIDE : IMAGE_SIDE;
    const layout = imageLayout({ size: media.size, grid: media.grid }, side);
    // Projector mode: the caption stays within the picture (it ellipsizes).
    this.caption.style.maxWidth = f.fit ? `${layout.width}px` : "";
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify(layout);
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = f.theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    this.drawImage(ctx, f, layout);
    const cells = this.cellValues();
    if (cells) this.drawOverlay(ctx, f, layout, cells);
    this.drawGrid(ctx, f, layout);
    this.drawMarks(ctx, f, layout);
    this.caption.textContent = this.describe(f);
    return !!this.weights;
  }

  /** @param {CanvasRenderingContext2D} ctx @param {Frame} f @param {ImageLayout} layout */
  drawImage(ctx, f, layout) {
    const media = /** @type {import("./codec.js").Media} */ (f.header.media);
    const entry = media.images[f.state.case];
    const rgb = entry && f.blobs[entry.blob];
    if (!rgb) return;
    if (this.drawn !== rgb) {
      this.scratch.width = entry.width;
      this.scratch.height = entry.height;
      const sctx = /** @type {CanvasRenderingContext2D} */ (this.scratch.getContext("2d"));
      const pixels = sctx.createImageData(entry.width, entry.height);
      for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
        pixels.data[j] = rgb[i];
        pixels.data[j + 1] = rgb[i + 1];
        pixels.data[j + 2] = rgb[i + 2];
        pixels.data[j + 3] = 255;
      }
      sctx.putImageData(pixels, 0, 0);
      this.drawn = rgb;
    }
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.scratch, layout.x0, layout.y0, layout.W * layout.scale, layout.H * layout.scale);
  }

  /** The overlay's value of every cell (row-major), or null while loading. */
  cellValues() {
    if (!this.weights) return null;
    const values = this.weights.values;
    return Float32Array.from(this.patches, (token) => values[token] || 0);
  }

  /** @param {CanvasRenderingContext2D} ctx @param {Frame} f @param {ImageLayout} layout @param {Float32Array} cells */
  drawOverlay(ctx, f, layout, cells) {
    let max = 0;
    for (const v of cells) if (v > max) max = v;
    const { scale, ph, pw } = layout;
    for (let r = 0; r < layout.rows; r++) {
      for (let c = 0; c < layout.cols; c++) {
        const t = contrast(cells[r * layout.cols + c], max, f.state.gamma);
        if (t <= 0) continue;
        ctx.globalAlpha = OVERLAY_ALPHA * t;
        ctx.fillStyle = lutColor(f.lut, t);
        const x = layout.x0 + c * pw * scale;
        const y = layout.y0 + r * ph * scale;
        ctx.fillRect(x, y, Math.min(pw, layout.W - c * pw) * scale, Math.min(ph, layout.H - r * ph) * scale);
      }
    }
    ctx.globalAlpha = 1;
  }

  /** @param {CanvasRenderingContext2D} ctx @param {Frame} f @param {ImageLayout} layout */
  drawGrid(ctx, f, layout) {
    const { x0, y0, scale, ph, pw } = layout;
    ctx.strokeStyle = f.theme.dark ? "rgba(255,255,255,0.25)" : "rgba(0,0,0,0.2)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let c = 1; c < layout.cols; c++) {
      const x = Math.round(x0 + c * pw * scale) + 0.5;
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y0 + layout.H * scale);
    }
    for (let r = 1; r < layout.rows; r++) {
      const y = Math.round(y0 + r * ph * scale) + 0.5;
      ctx.moveTo(x0, y);
      ctx.lineTo(x0 + layout.W * scale, y);
    }
    ctx.stroke();
  }

  /** Outline the patches the focus names (a cell: both of its patches). */
  drawMarks(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {Frame} */ f, /** @type {ImageLayout} */ layout) {
    const focus = f.focus;
    const tokens = !focus ? [] : focus.kind === "cell" ? [focus.q, focus.k] : [focus.index];
    ctx.strokeStyle = f.theme.highlight;
    ctx.lineWidth = f.large ? 3 : 2;
    for (const token of tokens) {
      const cell = this.patches.indexOf(token);
      if (cell < 0) continue;
      const r = Math.floor(cell / layout.cols);
      const c = cell % layout.cols;
      ctx.strokeRect(layout.x0 + c * layout.pw * layout.scale, layout.y0 + r * layout.ph * layout.scale,
        layout.pw * layout.scale, layout.ph * layout.scale);
    }
  }

  /** The caption: whose attention the overlay shows. @param {Frame} f */
  describe(f) {
    const { kind, index } = this.shown;
    if (kind === "mean") return "attention of every query, averaged";
    const tokens = kind === "query" ? f.header.query_tokens[f.state.case] : f.header.tokens[f.state.case];
    const name = visibleToken(tokens[index] || "");
    return kind === "query" ? `attention of ${name} (query ${index})` : `attention to ${name} (key ${index})`;
  }

  /** The patch token at canvas point (x, y), as a query. @returns {Focus} */
  hit(/** @type {number} */ x, /** @type {number} */ y) {
    const cell = this.layout && imageCell(this.layout, x, y);
    if (!cell || !this.layout) return null;
    const token = this.patches[cell.r * this.layout.cols + cell.c];
    return token === undefined ? null : { kind: "query", index: token };
  }
}
