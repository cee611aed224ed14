// The heatmap picture: rows are attending (query) tokens, columns attended
// (key) tokens, labels on both axes, a colour bar, and the linked highlight.
// It shows a window of the matrix (the whole of it until the user zooms),
// drawn from a tile that may be max-pooled to screen resolution.

import { paintPixels, contrast, lutColor, formatValue } from "./colormap.js";
import { heatmapLayout, heatmapHit } from "./geometry.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { drawOverlay } from "./overlay.js";
import { element } from "./controls.js";

/**
 * @typedef {import("./codec.js").Tile} Tile
 * @typedef {import("./codec.js").Overlay} Overlay
 * @typedef {import("./theme.js").Theme} Theme
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {import("./store.js").Window} Window
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 * @typedef {{tile: Tile, window: Window, max: number, gamma: number, lut: Uint8ClampedArray,
 *   lutName: string, queryLabels: string[], keyLabels: string[], labelWidth: {query: number, key: number},
 *   focus: Focus, box: Window | null, theme: Theme, fontSize: number, maxSize: number,
 *   overlay: Overlay | null, regions: number[][] | null, note?: string}} HeatmapScene
 */

/**
 * The heatmap's layout options: the window, the labels, the type size and the
 * largest matrix side (projector mode fits it to the room, see fit.js).
 * @param {Window} w @param {{query: number, key: number}} labelWidth @param {number} fontSize @param {number} maxSize
 */
export function heatmapOptions(w, labelWidth, fontSize, maxSize) {
  return {
    nq: w.q1 - w.q0,
    nk: w.k1 - w.k0,
    q0: w.q0,
    k0: w.k0,
    queryLabelWidth: labelWidth.query,
    keyLabelHeight: labelWidth.key,
    maxMatrixSize: maxSize,
    maxCell: Math.max(28, fontSize * 2.2),
    labelPitch: fontSize + 1,
    barLabelWidth: Math.max(48, fontSize * 4),
  };
}

/** @implements {Picture} */
export class HeatmapPicture {
  constructor() {
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-heatmap", tabindex: "0", role: "img", "aria-label": "attention heatmap" })
    );
    /** Off-screen image of the tile, one pixel a value; rebuilt only when tile or contrast change. */
    this.image = document.createElement("canvas");
    /** @type {Tile | null} */
    this.imageTile = null;
    this.imageKey = "";
    /** @type {import("./geometry.js").HeatmapLayout | null} */
    this.layout = null;
    /** @type {Tile | null} the tile on screen, for tooltips */
    this.tile = null;
    /** @type {Tile | null} what the current frame asked for */
    this.wanted = null;
    /** @type {number[][] | null} */
    this.rects = null;
  }

  /** The zoomed window's tile (the overview when not zoomed) and the regions when on. @param {Frame} f */
  request(f) {
    this.wanted = f.zoomed ? f.source.tile({ ...f.id, ...f.window, rows: f.maxSize, cols: f.maxSize }) : f.overviewTile;
    const regions = f.state.regions ? f.source.regions(f.id) : null;
    this.rects = regions && regions.rects;
  }

  /** @param {Frame} f @returns {boolean} false while the zoomed tile loads (the overview stands in) */
  paint(f) {
    const tile = this.wanted || f.overviewTile;
    if (!tile) return false;
    this.draw({
      tile, window: f.window, max: f.max, gamma: f.state.gamma, lut: f.lut, lutName: f.lutName,
      queryLabels: f.labels.queryLabels, keyLabels: f.labels.keyLabels, labelWidth: f.labels.width,
      focus: f.focus, box: f.state.box, theme: f.theme, fontSize: f.fontSize, maxSize: f.fit ? f.fit.heat : f.maxSize,
      overlay: f.overlay, regions: this.rects, note: noteOf(tile, f.state.sinks),
    });
    return !!this.wanted;
  }

  /** What lies at canvas point (x, y). @returns {Focus} */
  hit(/** @type {number} */ x, /** @type {number} */ y) {
    return this.layout ? heatmapHit(this.layout, x, y) : null;
  }

  /** @param {HeatmapScene} s */
  draw(s) {
    const { window: w, theme, fontSize } = s;
    const font = fontOf(fontSize, theme.font);
    const layout = heatmapLayout(heatmapOptions(w, s.labelWidth, fontSize, s.maxSize));
    this.layout = layout;
    this.tile = s.tile;
    this.canvas.dataset.layout = JSON.stringify({
      x0: layout.x0, y0: layout.y0, cell: layout.cell, nq: layout.nq, nk: layout.nk,
      q0: layout.q0, k0: layout.k0, barX: layout.barX, width: layout.width, height: layout.height,
      fq: s.tile.fq, fk: s.tile.fk, fontSize,
    });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    this.drawMatrix(ctx, s, layout);
    this.drawLabels(ctx, s, layout, font);
    if (s.regions) this.drawRegions(ctx, s.regions, layout, theme, fontSize);
    this.drawFocus(ctx, s, layout);
    if (s.box) this.drawBox(ctx, s.box, layout, theme);
    this.drawColorBar(ctx, s, layout, fontOf(Math.max(10, fontSize - 1), theme.font));
  }

  drawMatrix(ctx, s, layout) {
    const { tile } = s;
    const key = `${s.gamma}|${s.max}|${s.lutName}|${s.overlay ? "o" : ""}`;
    if (tile !== this.imageTile || key !== this.imageKey) {
      this.image.width = tile.cols;
      this.image.height = tile.rows;
      const ictx = /** @type {CanvasRenderingContext2D} */ (this.image.getContext("2d"));
      const pixels = ictx.createImageData(tile.cols, tile.rows);
      paintPixels(tile.values, s.max, s.gamma, s.lut, pixels.data);
      ictx.putImageData(pixels, 0, 0);
      this.imageTile = tile;
      this.imageKey = key;
    }
    const { x0, y0, cell, q0, k0 } = layout;
    // The tile may cover more than the window (a placeholder while the zoomed
    // tile loads): place it by matrix coordinates and clip to the matrix area.
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, y0, layout.matrixWidth, layout.matrixHeight);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(
      this.image,
      x0 + (tile.k0 - k0) * cell,
      y0 + (tile.q0 - q0) * cell,
      tile.cols * tile.fk * cell,
      tile.rows * tile.fq * cell,
    );
    if (s.overlay && tile.fq === 1 && tile.fk === 1) {
      drawOverlay(ctx, s.overlay, layout, { max: s.max, gamma: s.gamma, lut: s.lut, base: s.overlay.channels.base });
    }
    ctx.restore();
  }

  drawLabels(ctx, s, layout, font) {
    const { theme, focus } = s;
    const { x0, y0, cell, q0, k0 } = layout;
    const focusQ = focus && (focus.kind === "query" ? focus.index : focus.kind === "cell" ? focus.q : -1);
    const focusK = focus && (focus.kind === "key" ? focus.index : focus.kind === "cell" ? focus.k : -1);
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let i = 0; i < layout.nq; i++) {
      const q = q0 + i;
      const isFocus = q === focusQ;
      if (!isFocus && q % layout.labelStepQ !== 0) continue;
      ctx.font = isFocus ? `bold ${font}` : font;
      ctx.fillStyle = isFocus ? theme.highlight : theme.text;
      ctx.fillText(s.queryLabels[q], x0 - 5, y0 + (i + 0.5) * cell);
    }
    ctx.textAlign = "left";
    for (let j = 0; j < layout.nk; j++) {
      const k = k0 + j;
      const isFocus = k === focusK;
      if (!isFocus && k % layout.labelStepK !== 0) continue;
      ctx.font = isFocus ? `bold ${font}` : font;
      ctx.fillStyle = isFocus ? theme.highlight : theme.text;
      ctx.save();
      ctx.translate(x0 + (j + 0.5) * cell, y0 - 5);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(s.keyLabels[k], 0, 0);
      ctx.restore();
    }
  }

  drawFocus(ctx, s, layout) {
    const { focus, theme } = s;
    if (!focus) return;
    const { x0, y0, cell, nq, nk, q0, k0 } = layout;
    const rowY = (q) => y0 + (q - q0) * cell;
    const colX = (k) => x0 + (k - k0) * cell;
    const visibleQ = (q) => q >= q0 && q < q0 + nq;
    const visibleK = (k) => k >= k0 && k < k0 + nk;
    const w = Math.max(cell, 2);
    ctx.strokeStyle = theme.highlight;
    ctx.lineWidth = 2;
    if (focus.kind === "query" && visibleQ(focus.index)) {
      ctx.strokeRect(x0 - 1, rowY(focus.index) - 1, nk * cell + 2, w + 2);
    } else if (focus.kind === "key" && visibleK(focus.index)) {
      ctx.strokeRect(colX(focus.index) - 1, y0 - 1, w + 2, nq * cell + 2);
    } else if (focus.kind === "cell" && visibleQ(focus.q) && visibleK(focus.k)) {
      ctx.globalAlpha = 0.55;
      ctx.lineWidth = 1;
      ctx.strokeRect(x0, rowY(focus.q), nk * cell, w);
      ctx.strokeRect(colX(focus.k), y0, w, nq * cell);
      ctx.globalAlpha = 1;
      ctx.lineWidth = 2;
      ctx.strokeRect(colX(focus.k) - 1, rowY(focus.q) - 1, w + 2, w + 2);
    }
  }

  /** Boxes around detected regions, numbered strongest first. */
  drawRegions(ctx, rects, layout, theme, fontSize) {
    const { x0, y0, cell, q0, k0 } = layout;
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0 - 2, y0 - 2, layout.matrixWidth + 4, layout.matrixHeight + 4);
    ctx.clip();
    ctx.font = `bold ${Math.max(10, fontSize)}px sans-serif`;
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    rects.forEach(([top, left, bottom, right], i) => {
      const x = x0 + (left - k0) * cell;
      const y = y0 + (top - q0) * cell;
      ctx.strokeStyle = "#ff2d55";
      ctx.lineWidth = 2;
      ctx.strokeRect(x, y, (right - left) * cell, (bottom - top) * cell);
      ctx.fillStyle = "#ff2d55";
      ctx.fillText(String(i + 1), x + 2, y + 1);
    });
    ctx.restore();
  }

  drawBox(ctx, box, layout, theme) {
    const { x0, y0, cell, q0, k0 } = layout;
    ctx.save();
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = theme.highlight;
    ctx.lineWidth = 1.5;
    ctx.fillStyle = "rgba(255, 255, 255, 0.12)";
    const x = x0 + (box.k0 - k0) * cell;
    const y = y0 + (box.q0 - q0) * cell;
    const wpx = (box.k1 - box.k0) * cell;
    const hpx = (box.q1 - box.q0) * cell;
    ctx.fillRect(x, y, wpx, hpx);
    ctx.strokeRect(x, y, wpx, hpx);
    ctx.restore();
  }

  drawColorBar(ctx, s, layout, font) {
    const { max, gamma, lut, theme } = s;
    const top = layout.y0;
    const height = Math.max(layout.matrixHeight, 120);
    const x = layout.barX;
    // Value runs linearly up the bar; its colour follows the same contrast rule as the cells.
    for (let y = 0; y < height; y++) {
      const value = (1 - y / (height - 1)) * max;
      ctx.fillStyle = lutColor(lut, contrast(value, max, gamma));
      ctx.fillRect(x, top + y, 14, 1.5);
    }
    ctx.strokeStyle = theme.border;
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, top + 0.5, 13, height - 1);
    ctx.font = font;
    ctx.fillStyle = theme.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const f of [0, 0.5, 1]) {
      const y = top + (1 - f) * (height - 1);
      ctx.fillRect(x + 14, y, 3, 1);
      ctx.fillText(formatValue(f * max, 3), x + 19, y);
    }
    // The scale says what it leaves out (the sinks are off its top).
    if (s.note) {
      ctx.textBaseline = "top";
      ctx.fillText(s.note, x - 4, top + height + 4);
    }
  }

  /**
   * The value shown at a matrix cell, and the block it stands for when pooled.
   * @returns {{value: number, pooled: boolean, q0: number, q1: number, k0: number, k1: number} | null}
   */
  valueAt(q, k) {
    const t = this.tile;
    if (!t || q < t.q0 || q >= t.q1 || k < t.k0 || k >= t.k1) return null;
    const r = Math.floor((q - t.q0) / t.fq);
    const c = Math.floor((k - t.k0) / t.fk);
    const bq0 = t.q0 + r * t.fq;
    const bk0 = t.k0 + c * t.fk;
    return {
      value: t.values[r * t.cols + c],
      pooled: t.fq > 1 || t.fk > 1,
      q0: bq0, q1: Math.min(t.q1, bq0 + t.fq), k0: bk0, k1: Math.min(t.k1, bk0 + t.fk),
    };
  }
}

/**
 * The line under the heatmap: an estimate is marked until the exact tile replaces it.
 * @param {Tile} tile @param {boolean} sinks
 */
function noteOf(tile, sinks) {
  const parts = [];
  if (tile.refining) parts.push("refining… (estimate from some rows)");
  if (sinks) parts.push("sinks left out");
  return parts.join(" · ");
}
