// The heatmap picture: rows are attending (query) tokens, columns attended
// (key) tokens, labels on both axes, a colour bar, and the linked highlight.

import { paintPixels, contrast, lutColor, formatValue } from "./colormap.js";
import { heatmapLayout } from "./geometry.js";
import { prepareCanvas, widestLabel, fontOf } from "./draw.js";

/**
 * @typedef {import("./slices.js").Slice} Slice
 * @typedef {import("./theme.js").Theme} Theme
 * @typedef {import("./lines.js").Focus} Focus
 */

export class HeatmapPicture {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    /** Off-screen image of the matrix, one pixel a cell; rebuilt only when slice or gamma change. */
    this.image = document.createElement("canvas");
    this.imageKey = "";
    this.layout = null;
  }

  /**
   * @param {{slice: Slice, sliceKey: string, gamma: number, lut: Uint8ClampedArray,
   *   queryLabels: string[], keyLabels: string[], focus: Focus, theme: Theme,
   *   fontSize: number, maxSize: number}} s
   */
  draw(s) {
    const { slice, theme, fontSize } = s;
    const font = fontOf(fontSize, theme.font);
    const ctx0 = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext("2d"));
    const layout = heatmapLayout({
      nq: slice.q,
      nk: slice.k,
      queryLabelWidth: widestLabel(ctx0, s.queryLabels, font),
      keyLabelHeight: widestLabel(ctx0, s.keyLabels, font),
      maxMatrixSize: s.maxSize,
      maxCell: Math.max(28, fontSize * 2.2),
      labelPitch: fontSize + 1,
    });
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify({
      x0: layout.x0, y0: layout.y0, cell: layout.cell, nq: layout.nq, nk: layout.nk,
      barX: layout.barX, width: layout.width, height: layout.height,
    });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    this.drawMatrix(ctx, s, layout);
    this.drawLabels(ctx, s, layout, font);
    this.drawFocus(ctx, s, layout);
    this.drawColorBar(ctx, s, layout, fontOf(Math.max(10, fontSize - 1), theme.font));
  }

  drawMatrix(ctx, s, layout) {
    const { slice } = s;
    const key = `${s.sliceKey}|${s.gamma}|${s.lutName}`;
    if (key !== this.imageKey) {
      this.image.width = slice.k;
      this.image.height = slice.q;
      const ictx = /** @type {CanvasRenderingContext2D} */ (this.image.getContext("2d"));
      const pixels = ictx.createImageData(slice.k, slice.q);
      paintPixels(slice.values, slice.max, s.gamma, s.lut, pixels.data);
      ictx.putImageData(pixels, 0, 0);
      this.imageKey = key;
    }
    // Nearest-neighbour scaling: each cell a crisp square.
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image, layout.x0, layout.y0, layout.matrixWidth, layout.matrixHeight);
  }

  drawLabels(ctx, s, layout, font) {
    const { theme, focus } = s;
    const { x0, y0, cell } = layout;
    const focusQ = focus && (focus.kind === "query" ? focus.index : focus.kind === "cell" ? focus.q : -1);
    const focusK = focus && (focus.kind === "key" ? focus.index : focus.kind === "cell" ? focus.k : -1);
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let q = 0; q < layout.nq; q++) {
      const isFocus = q === focusQ;
      if (!isFocus && q % layout.labelStepQ !== 0) continue;
      ctx.font = isFocus ? `bold ${font}` : font;
      ctx.fillStyle = isFocus ? theme.highlight : theme.text;
      ctx.fillText(s.queryLabels[q], x0 - 5, y0 + (q + 0.5) * cell);
    }
    ctx.textAlign = "left";
    for (let k = 0; k < layout.nk; k++) {
      const isFocus = k === focusK;
      if (!isFocus && k % layout.labelStepK !== 0) continue;
      ctx.font = isFocus ? `bold ${font}` : font;
      ctx.fillStyle = isFocus ? theme.highlight : theme.text;
      ctx.save();
      ctx.translate(x0 + (k + 0.5) * cell, y0 - 5);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(s.keyLabels[k], 0, 0);
      ctx.restore();
    }
  }

  drawFocus(ctx, s, layout) {
    const { focus, theme } = s;
    if (!focus) return;
    const { x0, y0, cell, nq, nk } = layout;
    ctx.strokeStyle = theme.highlight;
    ctx.lineWidth = 2;
    if (focus.kind === "query") ctx.strokeRect(x0 - 1, y0 + focus.index * cell - 1, nk * cell + 2, cell + 2);
    else if (focus.kind === "key") ctx.strokeRect(x0 + focus.index * cell - 1, y0 - 1, cell + 2, nq * cell + 2);
    else {
      ctx.globalAlpha = 0.55;
      ctx.lineWidth = 1;
      ctx.strokeRect(x0, y0 + focus.q * cell, nk * cell, cell);
      ctx.strokeRect(x0 + focus.k * cell, y0, cell, nq * cell);
      ctx.globalAlpha = 1;
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + focus.k * cell - 1, y0 + focus.q * cell - 1, cell + 2, cell + 2);
    }
  }

  drawColorBar(ctx, s, layout, font) {
    const { slice, gamma, lut, theme } = s;
    const top = layout.y0;
    const height = Math.max(layout.matrixHeight, 120);
    const x = layout.barX;
    // Value runs linearly up the bar; its colour follows the same contrast rule as the cells.
    for (let y = 0; y < height; y++) {
      const value = (1 - y / (height - 1)) * slice.max;
      ctx.fillStyle = lutColor(lut, contrast(value, slice.max, gamma));
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
      ctx.fillText(formatValue(f * slice.max, 3), x + 19, y);
    }
  }
}
