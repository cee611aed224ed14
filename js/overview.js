// The overview grid (bertviz calls it the model view): a thumbnail of every
// layer × head of the current case; click one to select it. As an atlas, a
// head score (attn_widget.analysis) frames and badges every thumbnail in its
// colour, the grid sorts by it (or by likeness to the current head), and the
// tooltip lists every score of the hovered head.

import { paintPixels, lutColor, formatValue } from "./colormap.js";
import { maxOf } from "./codec.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element, checkbox, guardKeys } from "./controls.js";

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

/**
 * The order the thumbnails are drawn in: natural (layer by layer), by a score
 * (most first), or by likeness to a head.
 * @param {number} layers @param {number} heads
 * @param {number[][] | null} sorted [layer, head, ...] pairs, best first
 * @returns {number[][]}
 */
export function gridOrder(layers, heads, sorted) {
  if (sorted && sorted.length === layers * heads) return sorted.map(([l, h]) => [l, h]);
  const out = [];
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) out.push([l, h]);
  return out;
}

/** @implements {Picture} */
export class OverviewGrid {
  /** @param {(patch: object) => void} set */
  constructor(set) {
    this.panel = element("div", { class: "aw-overview-panel" });
    const bar = element("div", { class: "aw-atlas-bar" });
    this.scoreSelect = /** @type {HTMLSelectElement} */ (element("select", { class: "aw-atlas-score", "aria-label": "colour the heads by a score" }));
    guardKeys(this.scoreSelect);
    this.scoreSelect.addEventListener("change", () => set({ atlas: this.scoreSelect.value }));
    this.sort = checkbox({ label: "sort by it", onChange: (on) => set({ atlasSort: on, likeHead: null }) });
    this.sort.input.classList.replace("aw-head-mean", "aw-atlas-sort");
    this.like = /** @type {HTMLButtonElement} */ (element("button", { type: "button", class: "aw-button aw-atlas-like", "aria-pressed": "false" }, "heads like this one"));
    this.like.addEventListener("click", () => set({ likeHead: this.like.getAttribute("aria-pressed") === "true" ? null : "current" }));
    this.note = element("span", { class: "aw-atlas-note" });
    bar.append(element("span", { class: "aw-control-name" }, "atlas"), this.scoreSelect, this.sort.row, this.like, this.note);
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-overview-grid", role: "img", "aria-label": "every layer and head" })
    );
    this.panel.append(bar, this.canvas);
    this.scratch = document.createElement("canvas");
    /** @type {ReturnType<typeof gridLayout> | null} */
    this.layout = null;
    /** @type {number[][]} the (layer, head) at each place */
    this.order = [];
    /** @type {any} the current case's scores (attn_widget.analysis.HeadScores.to_dict) */
    this.scores = null;
    this.options = "";
  }

  /** The scores and the likeness ranks, when the atlas asks for them. @param {Frame} f */
  request(f) {
    const s = f.state;
    if (!s.overview) return;
    this.scores = s.atlas ? f.source.scores({ case: s.case }) : null;
    const like = s.likeHead;
    this.ranks = like ? f.source.similar({ layer: like.layer, head: like.head, case: s.case }) : null;
  }

  /** @param {Frame} f @returns {boolean} false while some layer's thumbnails load */
  paint(f) {
    if (!f.state.overview) return true;
    const { state, header } = f;
    this.showOptions(header.atlas_scores || [], state.atlas);
    const scores = this.scores && this.scores.scores;
    const values = scores && state.atlas ? scores.values[state.atlas] : null;
    let sorted = null;
    if (state.likeHead && this.ranks) sorted = this.ranks.ranks;
    else if (state.atlasSort && scores && state.atlas) sorted = scores.order[state.atlas];
    this.order = gridOrder(header.n_layers, header.n_heads, sorted);
    this.sort.input.checked = !!state.atlasSort;
    this.like.setAttribute("aria-pressed", String(!!state.likeHead));
    this.note.textContent = state.likeHead ? `most like L${state.likeHead.layer} H${state.likeHead.head} first`
      : state.atlas && scores ? (scores.definitions[state.atlas] || "") : state.atlas ? "scoring…" : "";
    const loading = this.draw({
      layers: header.n_layers, heads: header.n_heads, order: this.order, sorted: !!sorted,
      thumbsOf: (layer) => f.source.thumbs({ layer, case: state.case, size: THUMB }),
      current: { layer: state.layer, head: state.head, mean: state.mean },
      gamma: state.gamma, lut: f.lut, theme: f.theme, fontSize: Math.min(f.fontSize, 12), values,
    });
    return loading === 0 && (!state.atlas || !!scores) && (!state.likeHead || !!this.ranks);
  }

  /** The score choice lists the scores the kernel offers. @param {string[]} names @param {string} chosen */
  showOptions(names, chosen) {
    const key = names.join(",");
    if (key !== this.options) {
      this.scoreSelect.replaceChildren(element("option", { value: "" }, "none"),
        ...names.map((n) => element("option", { value: n }, n.replace(/_/g, " "))));
      this.options = key;
    }
    this.scoreSelect.value = chosen || "";
  }

  /** Every score of one head, for the tooltip: [name, value][]. @param {number} layer @param {number} head */
  scoresOf(layer, head) {
    const scores = this.scores && this.scores.scores;
    if (!scores) return [];
    return scores.names.map((/** @type {string} */ n) => [n, scores.values[n][layer][head]]);
  }

  /** The layer and head at canvas point (x, y), or null. @param {number} x @param {number} y @param {{n_layers: number, n_heads: number}} header */
  hit(x, y, header) {
    const place = this.layout ? gridHit(this.layout, header.n_layers, header.n_heads, x, y) : null;
    if (!place) return null;
    const [layer, head] = this.order[place.layer * header.n_heads + place.head] || [place.layer, place.head];
    return { layer, head };
  }

  /**
   * @param {{layers: number, heads: number, order: number[][], sorted: boolean, thumbsOf: (layer: number) => any,
   *   current: {layer: number, head: number, mean: boolean}, gamma: number, lut: Uint8ClampedArray,
   *   theme: import("./theme.js").Theme, fontSize: number, values: (number | null)[][] | null}} s
   * @returns {number} how many layers are still loading
   */
  draw(s) {
    const layout = gridLayout(s.layers, s.heads, s.fontSize);
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify({ ...layout, thumb: THUMB, layers: s.layers, heads: s.heads, order: s.order });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = s.theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    ctx.font = fontOf(s.fontSize, s.theme.font);
    ctx.fillStyle = s.theme.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    if (!s.sorted) {
      for (let h = 0; h < s.heads; h++) ctx.fillText(`H${h}`, layout.x0 + h * layout.pitch + THUMB / 2, layout.y0 / 2);
      ctx.textAlign = "right";
      for (let l = 0; l < s.layers; l++) ctx.fillText(`L${l}`, layout.x0 - 6, layout.y0 + l * layout.pitch + THUMB / 2);
    }
    let lo = Infinity;
    let hi = -Infinity;
    if (s.values) for (const row of s.values) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    /** @type {Map<number, any>} */
    const thumbsByLayer = new Map();
    const missing = new Set();
    s.order.forEach(([layer, head], place) => {
      const x = layout.x0 + (place % s.heads) * layout.pitch;
      const y = layout.y0 + Math.floor(place / s.heads) * layout.pitch;
      if (!thumbsByLayer.has(layer)) thumbsByLayer.set(layer, s.thumbsOf(layer));
      const thumbs = thumbsByLayer.get(layer);
      if (!thumbs) {
        missing.add(layer);
        ctx.fillStyle = s.theme.border;
        ctx.fillRect(x, y, THUMB, THUMB);
      } else {
        const size = thumbs.rows * thumbs.cols;
        const values = thumbs.values.subarray(head * size, (head + 1) * size);
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
      const v = s.values ? s.values[layer][head] : null;
      if (v !== null && v !== undefined) {
        // The frame's colour is the score on the atlas's own scale (lowest to highest head).
        const t = hi > lo ? (v - lo) / (hi - lo) : 1;
        ctx.strokeStyle = lutColor(s.lut, t);
        ctx.lineWidth = 3;
        ctx.strokeRect(x - 1.5, y - 1.5, THUMB + 3, THUMB + 3);
        ctx.font = fontOf(9, s.theme.font);
        const badge = formatValue(v, 2);
        const w = ctx.measureText(badge).width + 4;
        ctx.fillStyle = "rgba(0,0,0,0.6)";
        ctx.fillRect(x + THUMB - w, y + THUMB - 11, w, 11);
        ctx.fillStyle = "#ffffff";
        ctx.textAlign = "right";
        ctx.fillText(badge, x + THUMB - 2, y + THUMB - 5);
      }
      if (s.sorted) {
        ctx.font = fontOf(9, s.theme.font);
        ctx.fillStyle = "rgba(0,0,0,0.6)";
        ctx.fillRect(x, y, 30, 11);
        ctx.fillStyle = "#ffffff";
        ctx.textAlign = "left";
        ctx.fillText(`L${layer} H${head}`, x + 2, y + 5.5);
      }
    });
    const { layer, head, mean } = s.current;
    ctx.strokeStyle = s.theme.highlight;
    ctx.lineWidth = 2.5;
    s.order.forEach(([l, h], place) => {
      if (l !== layer || (!mean && h !== head)) return;
      const x = layout.x0 + (place % s.heads) * layout.pitch;
      const y = layout.y0 + Math.floor(place / s.heads) * layout.pitch;
      ctx.strokeRect(x - 3, y - 3, THUMB + 6, THUMB + 6);
    });
    return missing.size;
  }
}
