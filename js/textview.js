// The text picture of a generation: the prompt and the generated text as
// flowing, wrapped text, each token shaded by the attention one token pays it
// (the current step's writer, or the hovered / locked token), in the view's
// colour map and contrast. Beside it: the step's choices (the chosen token,
// its probability, the top-k), each head's share on the sink, and the step
// controls (slider, play, speed, stop). An encoder–decoder shows the source
// above, shaded by the cross-attention, and the target below.

import { contrast, lutColor, lutLuminance, formatValue } from "./colormap.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element, slider, checkbox, guardKeys } from "./controls.js";
import { visibleToken } from "./geometry.js";
import { sinkKeys } from "./frame.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {{x: number, y: number, w: number, h: number}} Box
 * @typedef {{boxes: Box[], width: number, height: number}} Flow
 */

/**
 * Lay tokens out as wrapped text: left to right, a new line when the next does not fit
 * (or after a token that ends in a newline mark).
 * @param {number[]} widths each token's text width
 * @param {{maxWidth: number, lineHeight: number, gap: number, pad: number, top?: number,
 *   breaks?: boolean[]}} o
 * @returns {Flow}
 */
export function flowLayout(widths, o) {
  const boxes = [];
  let x = o.pad;
  let y = o.top ?? o.pad;
  for (let i = 0; i < widths.length; i++) {
    const w = widths[i] + 2 * o.gap;
    if (x > o.pad && x + w > o.maxWidth - o.pad) {
      x = o.pad;
      y += o.lineHeight;
    }
    boxes.push({ x, y, w, h: o.lineHeight - 2 });
    x += w + 1;
    if (o.breaks && o.breaks[i]) {
      x = o.pad;
      y += o.lineHeight;
    }
  }
  return { boxes, width: o.maxWidth, height: y + o.lineHeight + o.pad };
}

/** The token whose box holds (x, y), or -1. @param {Flow} flow @param {number} x @param {number} y */
export function flowHit(flow, x, y) {
  return flow.boxes.findIndex((b) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
}

/** Speeds of play, in steps a second. */
export const SPEEDS = [1, 2, 5, 10];

/** @implements {Picture} */
export class TextPicture {
  /**
   * @param {{set: (patch: object) => void, stop: () => void}} io
   */
  constructor(io) {
    this.io = io;
    this.panel = element("div", { class: "aw-text-panel", hidden: "" });
    const bar = element("div", { class: "aw-stepbar" });
    this.bar = bar;
    this.step = slider({ dim: "step", label: "step", min: 1, max: 1, step: 1, format: (v) => String(v),
      onInput: (v) => io.set({ step: v, playing: false }) });
    this.play = /** @type {HTMLButtonElement} */ (element("button", { type: "button", class: "aw-button aw-play", "aria-pressed": "false" }, "▶ play"));
    this.play.addEventListener("click", () => io.set({ playing: this.play.getAttribute("aria-pressed") !== "true" }));
    this.speed = /** @type {HTMLSelectElement} */ (element("select", { class: "aw-speed", "aria-label": "steps a second" }));
    for (const s of SPEEDS) this.speed.append(element("option", { value: String(s) }, `${s}/s`));
    guardKeys(this.speed);
    this.stopButton = /** @type {HTMLButtonElement} */ (element("button", { type: "button", class: "aw-button aw-stop" }, "■ stop"));
    this.stopButton.addEventListener("click", () => io.stop());
    this.sinks = checkbox({ label: "sinks left out of the colours", onChange: (on) => io.set({ sinks: on }) });
    // (the toolbar's "sinks" button is the same switch)
    this.sinks.input.classList.replace("aw-head-mean", "aw-sinks");
    this.state = element("span", { class: "aw-generation-state" });
    bar.append(this.step.row, this.play, this.speed, this.stopButton, this.sinks.row, this.state);
    const body = element("div", { class: "aw-text-body" });
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-text", tabindex: "0", role: "img", "aria-label": "the text, shaded by attention" })
    );
    this.side = element("div", { class: "aw-choices" });
    body.append(this.canvas, this.side);
    this.panel.append(bar, body);
    /** @type {Flow | null} */
    this.flow = null;
    /** @type {{values: Float32Array} | null} */
    this.weights = null;
    /** @type {{values: Float32Array} | null} */
    this.heads = null;
    this.row = -1;
    /** @type {Flow | null} an encoder–decoder's target, below the source */
    this.target = null;
    /** Whether the text shaded is the keys (an encoder–decoder's source) rather than the sequence. */
    this.cross = false;
  }

  /** @param {Frame} f */
  request(f) {
    const gen = f.header.generation;
    this.panel.hidden = !gen;
    if (!gen) return;
    this.cross = f.header.is_cross;
    const focus = f.focus;
    const c = f.header.cases[f.state.case];
    const row = focus && focus.kind === "query" ? focus.index : focus && focus.kind === "cell" ? focus.q : -1;
    this.row = row >= 0 && row < c.q ? row : -1;
    this.weights = this.row >= 0 ? f.source.token({ ...f.id, kind: "query", index: this.row }) : null;
    this.heads = this.row >= 0 && c.k > 0 ? f.source.cellheads({ layer: f.state.layer, case: f.state.case, q: this.row, k: sinkKeys(f.header)[0] }) : null;
  }

  /** @param {Frame} f @returns {boolean} */
  paint(f) {
    const gen = f.header.generation;
    if (!gen) return true;
    const total = gen.steps.length;
    this.step.set(Math.max(1, f.state.step), 1, Math.max(1, total));
    this.step.input.disabled = total < 2;
    this.play.setAttribute("aria-pressed", String(f.state.playing));
    this.play.textContent = f.state.playing ? "❚❚ pause" : "▶ play";
    this.stopButton.hidden = !f.state.generating;
    this.sinks.input.checked = f.state.sinks;
    this.state.textContent = gen.error ? `error: ${gen.error}` : f.state.generating ? `writing… ${total} token(s)` : gen.stopped ? `stopped after ${total}` : `${total} token(s)`;
    this.drawText(f, gen);
    this.showChoices(f, gen);
    return this.row < 0 || !!this.weights;
  }

  /** @param {Frame} f @param {NonNullable<import("./codec.js").Header["generation"]>} gen */
  drawText(f, gen) {
    const large = f.large;
    const maxWidth = f.fit && f.fit.text ? f.fit.text.canvas : large ? 640 : 460;
    const { font, fontSize, shownTokens, flow, target } = this.flows(f, gen, maxWidth);
    this.flow = flow;
    this.target = target;
    const height = target ? target.height : flow.height;
    this.panel.style.width = f.fit && f.fit.text ? `${f.fit.text.width}px` : "";
    this.canvas.dataset.layout = JSON.stringify({ boxes: flow.boxes, target: target ? target.boxes : null, row: this.row, fontSize });
    const ctx = prepareCanvas(this.canvas, maxWidth, height);
    ctx.fillStyle = f.theme.background;
    ctx.fillRect(0, 0, maxWidth, height);
    ctx.font = font;
    ctx.textBaseline = "middle";
    const values = this.weights ? this.weights.values : null;
    const skip = f.state.sinks ? new Set(sinkKeys(f.header)) : new Set();
    let max = 0;
    if (values) for (let i = 0; i < values.length; i++) if (!skip.has(i) && values[i] > max) max = values[i];
    const writing = gen.prompt_length + f.state.step - 1; // the token the step wrote
    flow.boxes.forEach((b, i) => {
      const v = values && i < values.length ? values[i] : 0;
      const t = contrast(v, max, f.state.gamma);
      if (t > 0) {
        ctx.fillStyle = lutColor(f.lut, t);
        ctx.fillRect(b.x, b.y, b.w, b.h);
      }
      ctx.fillStyle = t > 0 && lutLuminance(f.lut, t) < 0.5 ? "#ffffff" : f.theme.text;
      if (!this.cross && i >= gen.prompt_length) ctx.fillStyle = t > 0 ? ctx.fillStyle : f.theme.accent;
      ctx.fillText(shownTokens[i], b.x + 3, b.y + b.h / 2);
    });
    const mark = (/** @type {Box} */ b, /** @type {string} */ colour, /** @type {number} */ width) => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.strokeRect(b.x - 1, b.y - 1, b.w + 2, b.h + 2);
    };
    if (target) {
      gen.tokens.forEach((tok, i) => {
        const b = target.boxes[i];
        ctx.fillStyle = i >= gen.prompt_length ? f.theme.accent : f.theme.muted;
        ctx.fillText(visibleToken(tok), b.x + 3, b.y + b.h / 2);
      });
      if (target.boxes[writing]) mark(target.boxes[writing], f.theme.highlight, large ? 3 : 2);
      if (this.row >= 0 && target.boxes[this.row]) mark(target.boxes[this.row], f.theme.muted, 1);
    } else {
      if (flow.boxes[writing]) mark(flow.boxes[writing], f.theme.highlight, large ? 3 : 2);
      if (this.row >= 0 && flow.boxes[this.row]) mark(flow.boxes[this.row], f.theme.muted, 1);
    }
  }

  /**
   * The text laid out in `maxWidth`: the shaded tokens' flow (and an encoder–decoder's target below).
   * @param {Frame} f @param {NonNullable<import("./codec.js").Header["generation"]>} gen @param {number} maxWidth
   */
  flows(f, gen, maxWidth) {
    const fontSize = f.large ? 20 : 13;
    const font = fontOf(fontSize, f.theme.font);
    const cross = f.header.is_cross;
    const keysTokens = cross && gen.source_tokens ? gen.source_tokens : gen.tokens;
    const shownTokens = keysTokens.map((t) => visibleToken(t));
    const ctx0 = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext("2d"));
    ctx0.font = font;
    const widths = shownTokens.map((t) => ctx0.measureText(t).width);
    const lineHeight = Math.round(fontSize * 1.7);
    const flow = flowLayout(widths, { maxWidth, lineHeight, gap: 3, pad: 6, breaks: shownTokens.map((t) => t.endsWith("↵")) });
    // An encoder–decoder: the target below the source, the step's token marked.
    const target = cross ? flowLayout(gen.tokens.map((t) => ctx0.measureText(visibleToken(t)).width),
      { maxWidth, lineHeight, gap: 3, pad: 6, top: flow.height + 10 }) : null;
    return { font, fontSize, shownTokens, flow, target, height: target ? target.height : flow.height };
  }

  /** The text canvas's height at width `maxWidth` (projector mode fits it). @param {Frame} f @param {number} maxWidth */
  heightFor(f, maxWidth) {
    const gen = f.header.generation;
    return gen ? this.flows(f, gen, maxWidth).height : 0;
  }

  /** The step's choices and each head's sink share. */
  showChoices(/** @type {Frame} */ f, /** @type {NonNullable<import("./codec.js").Header["generation"]>} */ gen) {
    const step = gen.steps[f.state.step - 1];
    const rows = [];
    if (step) {
      rows.push(element("div", { class: "aw-choice-title" }, `step ${f.state.step}: wrote ${visibleToken(step.token)} (p = ${formatValue(step.probability, 3)})`));
      for (const [token, p] of step.top) {
        const row = element("div", { class: `aw-choice${token === step.token ? " aw-chosen" : ""}` });
        const bar = element("span", { class: "aw-choice-bar" });
        bar.style.width = `${Math.round(80 * p)}px`;
        row.append(bar, element("span", { class: "aw-choice-token" }, visibleToken(token)), element("span", { class: "aw-choice-p" }, formatValue(p, 3)));
        rows.push(row);
      }
    }
    if (this.heads) {
      const shares = Array.from(this.heads.values, (v, h) => `H${h} ${formatValue(v, 2)}`);
      rows.push(element("div", { class: "aw-sink-shares" }, `on the first token: ${shares.join(" · ")}`));
    }
    this.side.replaceChildren(...rows);
  }

  /** The token at canvas point (x, y): a query (the sequence) or a source key. @returns {Focus} */
  hit(/** @type {number} */ x, /** @type {number} */ y) {
    if (!this.flow) return null;
    const i = flowHit(this.flow, x, y);
    if (i >= 0) return this.cross ? { kind: "key", index: i } : { kind: "query", index: i };
    const j = this.target ? flowHit(this.target, x, y) : -1;
    return j >= 0 ? { kind: "query", index: j } : null;
  }
}
