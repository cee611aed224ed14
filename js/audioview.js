// The audio picture: the waveform of the input as a strip along a time axis in
// seconds, and one token's attention over the encoder positions as a band of
// colour under it (the view's colour map and contrast). For the encoder the
// strip is both axes: hovering it shows that position's attention; for
// cross-attention it is the key axis: the overlay is a transcript token's
// attention over time, an alignment of words to audio.

import { contrast, lutColor } from "./colormap.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element } from "./controls.js";
import { visibleToken } from "./geometry.js";
import { decodeValues } from "./codec.js";
import { overlayOf } from "./imageview.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {{x0: number, width: number, height: number, stripTop: number, stripHeight: number,
 *   bandTop: number, bandHeight: number, positions: number, perPosition: number}} AudioLayout
 */

export const STRIP_WIDTH = 520;

/** Width of the strip in projector mode (unless fitted to the room). */
export const LARGE_STRIP_WIDTH = 680;

/**
 * @param {number} positions @param {boolean} large @param {number} [stripWidth] projector mode's fitted width
 * @returns {AudioLayout}
 */
export function audioLayout(positions, large, stripWidth) {
  const width = stripWidth ?? (large ? LARGE_STRIP_WIDTH : STRIP_WIDTH);
  const x0 = 14; // room for the first time label
  const stripHeight = large ? 90 : 64;
  const bandHeight = large ? 22 : 16;
  return { x0, width: width + 2 * x0, height: 8 + stripHeight + 4 + bandHeight + 22, stripTop: 8,
    stripHeight, bandTop: 8 + stripHeight + 4, bandHeight, positions, perPosition: width / positions };
}

/** The encoder position at canvas x, or null. @param {AudioLayout} layout @param {number} x */
export function positionAt(layout, x) {
  const p = Math.floor((x - layout.x0) / layout.perPosition);
  return p >= 0 && p < layout.positions ? p : null;
}

/** @implements {Picture} */
export class AudioPicture {
  constructor() {
    this.panel = element("div", { class: "aw-audio-panel", hidden: "" });
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-audio", tabindex: "0", role: "img", "aria-label": "the audio, with attention over time" })
    );
    this.caption = element("div", { class: "aw-audio-caption" });
    this.panel.append(this.canvas, this.caption);
    /** @type {AudioLayout | null} */
    this.layout = null;
    /** @type {{values: Float32Array} | null} */
    this.weights = null;
    this.shown = overlayOf(null, null);
    /** Whether the strip is the query axis too (encoder self-attention). */
    this.queries = false;
  }

  /** @param {Frame} f */
  request(f) {
    const media = f.header.media;
    this.panel.hidden = !media || media.kind !== "audio";
    if (this.panel.hidden || !media) return;
    this.queries = media.axes.includes("query");
    const focus = f.focus;
    // Cross-attention: a key focus on the strip is a time position, not a query.
    const usable = this.queries || !focus || focus.kind !== "key" ? focus : null;
    this.shown = overlayOf(usable, null);
    if (!this.queries && this.shown.kind === "key") this.shown = overlayOf(null, null);
    const { kind, index } = this.shown;
    this.weights = kind === "mean" ? f.source.colmean(f.id) : f.source.token({ ...f.id, kind, index });
  }

  /** @param {Frame} f @returns {boolean} */
  paint(f) {
    const media = f.header.media;
    if (this.panel.hidden || !media) return true;
    const c = f.header.cases[f.state.case];
    const positions = this.queries ? c.q : c.k;
    const layout = audioLayout(positions, f.large, f.fit && f.fit.audio ? f.fit.audio : undefined);
    this.caption.style.maxWidth = f.fit ? `${layout.width}px` : "";
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify(layout);
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = f.theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    this.drawWave(ctx, f, layout, media);
    if (this.weights && this.shown.kind !== "key") this.drawBand(ctx, f, layout, this.weights.values, media);
    this.drawAxis(ctx, f, layout, media);
    this.drawMarks(ctx, f, layout);
    this.caption.textContent = this.describe(f);
    return !!this.weights;
  }

  /**
   * @param {CanvasRenderingContext2D} ctx @param {Frame} f @param {AudioLayout} layout
   * @param {import("./codec.js").Media} media
   */
  drawWave(ctx, f, layout, media) {
    const entry = media.envelopes[f.state.case];
    const blob = entry && f.blobs[entry.blob];
    if (!blob || !media.envelope) return;
    const env = decodeValues(blob, "float32", 1, 0, entry.bins * 2);
    const perBin = media.envelope.seconds_per_bin / (media.seconds_per_position || 1) * layout.perPosition;
    const mid = layout.stripTop + layout.stripHeight / 2;
    let peak = 1e-9;
    for (const v of env) peak = Math.max(peak, Math.abs(v));
    ctx.strokeStyle = f.theme.muted;
    ctx.lineWidth = Math.max(1, perBin);
    ctx.beginPath();
    for (let b = 0; b < entry.bins; b++) {
      const x = layout.x0 + (b + 0.5) * perBin;
      if (x > layout.x0 + layout.positions * layout.perPosition) break;
      ctx.moveTo(x, mid - (env[2 * b + 1] / peak) * (layout.stripHeight / 2));
      ctx.lineTo(x, mid - (env[2 * b] / peak) * (layout.stripHeight / 2) + 0.5);
    }
    ctx.stroke();
  }

  /**
   * The attention over time, one cell per encoder position; the padding after the audio is dimmed.
   * @param {CanvasRenderingContext2D} ctx @param {Frame} f @param {AudioLayout} layout
   * @param {Float32Array} values @param {import("./codec.js").Media} media
   */
  drawBand(ctx, f, layout, values, media) {
    let max = 0;
    for (let p = 0; p < layout.positions; p++) max = Math.max(max, values[p] || 0);
    for (let p = 0; p < layout.positions; p++) {
      const t = contrast(values[p] || 0, max, f.state.gamma);
      ctx.fillStyle = lutColor(f.lut, t);
      ctx.fillRect(layout.x0 + p * layout.perPosition, layout.bandTop, Math.max(1, layout.perPosition), layout.bandHeight);
    }
    const audio = (media.audio_positions || [])[f.state.case];
    if (audio !== undefined && audio < layout.positions) {
      ctx.fillStyle = f.theme.dark ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.55)";
      const x = layout.x0 + audio * layout.perPosition;
      ctx.fillRect(x, layout.stripTop, layout.positions * layout.perPosition - audio * layout.perPosition,
        layout.bandTop + layout.bandHeight - layout.stripTop);
    }
  }

  /** Seconds along the bottom. */
  drawAxis(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {Frame} */ f, /** @type {AudioLayout} */ layout, /** @type {import("./codec.js").Media} */ media) {
    const seconds = layout.positions * (media.seconds_per_position || 0);
    if (!(seconds > 0)) return;
    const step = [0.1, 0.2, 0.5, 1, 2, 5, 10].find((s) => seconds / s <= 8) || 10;
    ctx.font = fontOf(Math.min(f.fontSize, 12), f.theme.font);
    ctx.fillStyle = f.theme.text;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const y = layout.bandTop + layout.bandHeight + 4;
    for (let s = 0; s <= seconds + 1e-9; s += step) {
      const x = layout.x0 + (s / seconds) * layout.positions * layout.perPosition;
      ctx.fillRect(x, y - 3, 1, 3);
      ctx.fillText(`${Number(s.toFixed(2))} s`, x, y);
    }
  }

  /** Mark the focused position on the strip. */
  drawMarks(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {Frame} */ f, /** @type {AudioLayout} */ layout) {
    const focus = f.focus;
    if (!focus) return;
    const p = focus.kind === "cell" ? focus.k : focus.kind === "key" || this.queries ? focus.index : null;
    if (p === null || p >= layout.positions) return;
    ctx.strokeStyle = f.theme.highlight;
    ctx.lineWidth = 2;
    ctx.strokeRect(layout.x0 + p * layout.perPosition, layout.stripTop, Math.max(2, layout.perPosition),
      layout.bandTop + layout.bandHeight - layout.stripTop);
  }

  /** @param {Frame} f */
  describe(f) {
    const { kind, index } = this.shown;
    if (kind === "mean") return "attention over time, every query averaged";
    const name = visibleToken(f.header.query_tokens[f.state.case][index] || "");
    return `attention of ${name} (query ${index}) over time`;
  }

  /** The position at canvas point (x, y): a query on the encoder strip, a key on a cross strip. */
  hit(/** @type {number} */ x, /** @type {number} */ y) {
    if (!this.layout || y > this.layout.bandTop + this.layout.bandHeight) return null;
    const p = positionAt(this.layout, x);
    return p === null ? null : /** @type {Focus} */ ({ kind: this.queries ? "query" : "key", index: p });
  }
}
