// The overview grid (bertviz calls it the model view): a thumbnail of every
// layer × head of the current case; click one to select it.

import { paintPixels } from "./colormap.js";
import { maxOf } from "./codec.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element } from "./controls.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 */

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

/**
 * Which thumbnail is at (x, y): {layer, head} or null.
 * @param {{x0: number, y0: number, pitch: number}} layout
 * @param {number} layers @param {number} heads @param {number} x @param {number} y
 */
export function gridHit(layout, layers, heads, x, y) {
  const head = Math.floor((x - layout.x0) / layout.pitch);
  const layer = Math.floor((y - layout.y0) / layout.pitch);
  if (x < layout.x0 || y < layout.y0 || head >= heads || layer >= layers) return null;
  if ((x - layout.x0) % layout.pitch > THUMB || (y - layout.y0) % layout.pitch > THUMB) return null;
  return { layer, head };
}

/** @implements {Picture} */
export class OverviewGrid {
  constructor() {
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-overview-grid", role: "img", "aria-label": "every layer and head" })
    );
    this.scratch = document.createElement("canvas");
    /** @type {ReturnType<typeof gridLayout> | null} */
    this.layout = null;
  }

  /** Thumbnails are asked for while drawing, one layer a request (in the kernel tier). */
  request() {}

  /** @param {Frame} f @returns {boolean} false while some layer's thumbnails load */
  paint(f) {
    if (!f.state.overview) return true;
    const { state, header } = f;
    const loading = this.draw({
      layers: header.n_layers, heads: header.n_heads,
      thumbsOf: (layer) => f.source.thumbs({ layer, case: state.case, size: THUMB }),
      current: { layer: state.layer, head: state.head, mean: state.mean },
      gamma: state.gamma, lut: f.lut, theme: f.theme, fontSize: Math.min(f.fontSize, 12),
    });
    return loading === 0;
  }

  /** The layer and head at canvas point (x, y), or null. @param {number} x @param {number} y @param {{n_layers: number, n_heads: number}} header */
  hit(x, y, header) {
    return this.layout ? gridHit(this.layout, header.n_layers, header.n_heads, x, y) : null;
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
