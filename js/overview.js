// The overview grid (bertviz calls it the model view): a thumbnail of every
// layer × head of the current case; click one to select it.

import { paintPixels } from "./colormap.js";
import { maxOf } from "./decode.js";
import { prepareCanvas, fontOf } from "./draw.js";

/** Pixels a thumbnail side. */
export const THUMB = 40;
const GAP = 4;

/**
 * Grid geometry: label margins, then cells of THUMB + GAP.
 * @returns {{x0: number, y0: number, pitch: number, width: number, height: number}}
 */
export function gridLayout(layers, heads, fontSize = 11) {
  const x0 = fontSize * 3 + 6;
  const y0 = fontSize + 8;
  const pitch = THUMB + GAP;
  return { x0, y0, pitch, width: x0 + heads * pitch, height: y0 + layers * pitch };
}

/** Which thumbnail is at (x, y): {layer, head} or null. */
export function gridHit(layout, layers, heads, x, y) {
  const head = Math.floor((x - layout.x0) / layout.pitch);
  const layer = Math.floor((y - layout.y0) / layout.pitch);
  if (x < layout.x0 || y < layout.y0 || head >= heads || layer >= layers) return null;
  if ((x - layout.x0) % layout.pitch > THUMB || (y - layout.y0) % layout.pitch > THUMB) return null;
  return { layer, head };
}

export class OverviewGrid {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.scratch = document.createElement("canvas");
    this.layout = null;
  }

  /**
   * @param {{layers: number, heads: number, thumbsOf: (layer: number) => any, current: {layer: number, head: number, mean: boolean},
   *   gamma: number, lut: Uint8ClampedArray, theme: import("./theme.js").Theme, fontSize: number}} s
   * @returns {number} how many layers are still loading
   */
  draw(s) {
    const layout = gridLayout(s.layers, s.heads, s.fontSize);
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify({ ...layout, thumb: THUMB, layers: s.layers, heads: s.heads });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = s.theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    ctx.font = fontOf(s.fontSize, s.theme.font);
    ctx.fillStyle = s.theme.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    for (let h = 0; h < s.heads; h++) ctx.fillText(`H${h}`, layout.x0 + h * layout.pitch + THUMB / 2, layout.y0 / 2);
    ctx.textAlign = "right";
    let loading = 0;
    for (let l = 0; l < s.layers; l++) {
      const y = layout.y0 + l * layout.pitch;
      ctx.fillStyle = s.theme.muted;
      ctx.fillText(`L${l}`, layout.x0 - 6, y + THUMB / 2);
      const thumbs = s.thumbsOf(l);
      for (let h = 0; h < s.heads; h++) {
        const x = layout.x0 + h * layout.pitch;
        if (!thumbs) {
          ctx.fillStyle = s.theme.border;
          ctx.fillRect(x, y, THUMB, THUMB);
          continue;
        }
        const size = thumbs.rows * thumbs.cols;
        const values = thumbs.values.subarray(h * size, (h + 1) * size);
        this.scratch.width = thumbs.cols;
        this.scratch.height = thumbs.rows;
        const sctx = /** @type {CanvasRenderingContext2D} */ (this.scratch.getContext("2d"));
        const pixels = sctx.createImageData(thumbs.cols, thumbs.rows);
        paintPixels(values, maxOf(values), s.gamma, s.lut, pixels.data);
        sctx.putImageData(pixels, 0, 0);
        ctx.imageSmoothingEnabled = false;
        const scale = THUMB / Math.max(thumbs.rows, thumbs.cols);
        ctx.drawImage(this.scratch, x, y, thumbs.cols * scale, thumbs.rows * scale);
      }
      if (!thumbs) loading++;
    }
    const { layer, head, mean } = s.current;
    ctx.strokeStyle = s.theme.highlight;
    ctx.lineWidth = 2.5;
    const y = layout.y0 + layer * layout.pitch;
    if (mean) ctx.strokeRect(layout.x0 - 2, y - 2, s.heads * layout.pitch - GAP + 4, THUMB + 4);
    else ctx.strokeRect(layout.x0 + head * layout.pitch - 2, y - 2, THUMB + 4, THUMB + 4);
    return loading;
  }
}
