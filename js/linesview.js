// The token-line picture: query tokens on the left, key tokens on the right,
// one line per drawn link, opacity and width from (w / max) ** gamma.
// Long inputs scroll: rows keep a readable height, only visible rows are drawn,
// and lines to tokens out of view run off the edge towards them.

import { linesLayout, linesHit, rowY, visibleRows } from "./geometry.js";
import { lineWidth, linesFromLinks, linesFromToken, defaultTopK } from "./lines.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element, guardKeys } from "./controls.js";

/**
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 * @typedef {import("./codec.js").Links} Links
 * @typedef {import("./codec.js").TokenWeights} TokenWeights
 */

/**
 * @typedef {{nq: number, nk: number, labelWidth: {query: number, key: number}, fontSize: number,
 *   maxSize: number, gap?: number}} LinesSpec  maxSize: the largest visible column height
 */

/** The gap between the columns at a type size (projector mode may narrow it). @param {number} fontSize */
export function linesGap(fontSize) {
  return Math.max(160, fontSize * 12);
}

/** The token-line layout options of a spec (the scroll position aside). @param {LinesSpec} s */
export function linesOptions(s) {
  return {
    nq: s.nq,
    nk: s.nk,
    queryLabelWidth: s.labelWidth.query,
    keyLabelWidth: s.labelWidth.key,
    maxHeight: s.maxSize,
    maxRow: Math.max(22, s.fontSize * 1.8),
    minRow: s.fontSize + 3,
    gap: s.gap ?? linesGap(s.fontSize),
    labelPitch: s.fontSize + 1,
  };
}

/** @implements {Picture} */
export class LinesPicture {
  /** @param {() => void} onChange the links inputs changed or the column scrolled */
  constructor(onChange) {
    this.panel = element("div", { class: "aw-panel" });
    const linebar = element("div", { class: "aw-linebar" });
    this.topInput = /** @type {HTMLInputElement} */ (
      element("input", { type: "number", class: "aw-topk", min: "1", step: "1", "aria-label": "links per token" })
    );
    this.thresholdInput = /** @type {HTMLInputElement} */ (
      element("input", { type: "number", class: "aw-threshold", min: "0", max: "1", step: "0.05", value: "0", "aria-label": "hide links below this fraction of the maximum" })
    );
    for (const input of [this.topInput, this.thresholdInput]) {
      guardKeys(input);
      input.addEventListener("input", onChange);
    }
    const label = (/** @type {string} */ text, /** @type {HTMLElement} */ input) => {
      const l = element("label", {});
      l.append(element("span", {}, text), input);
      return l;
    };
    linebar.append(label("links per token ", this.topInput), label("min weight ", this.thresholdInput));
    this.scroller = element("div", { class: "aw-lines-scroll" });
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-lines", tabindex: "0", role: "img", "aria-label": "attention token lines" })
    );
    this.spacer = element("div", { class: "aw-lines-spacer" });
    this.scroller.append(this.canvas, this.spacer);
    this.scroller.addEventListener("scroll", onChange, { passive: true });
    this.panel.append(linebar, this.scroller);
    /** @type {import("./geometry.js").LinesLayout | null} */
    this.layout = null;
    /** @type {Links | TokenWeights | null} what the current frame asked for */
    this.data = null;
  }

  /** Lay the columns out first: which rows are visible decides what to ask for. @param {Frame} f */
  place(f) {
    const { full, labels, fontSize, maxSize, fit } = f;
    this.layOut({ nq: full.q, nk: full.k, labelWidth: labels.width, fontSize, maxSize: fit ? fit.lines.height : maxSize, gap: fit ? fit.lines.gap : undefined });
    if (!this.topInput.value) this.topInput.value = String(defaultTopK(full.q, full.k));
    this.topInput.max = String(full.k);
  }

  /** The "links per token" input, clamped to 1..k (its default when empty). @param {{q: number, k: number}} full */
  linksPerToken(full) {
    return Math.max(1, Math.min(full.k, Math.floor(Number(this.topInput.value) || defaultTopK(full.q, full.k))));
  }

  /** The links request of the visible rows, or null when no row is in view. @param {Frame} f */
  linksWanted(f) {
    const [q0, q1] = this.visibleQueries();
    return q1 > q0 ? { q0, q1, top: this.linksPerToken(f.full) } : null;
  }

  /** A focused token's every weight, else each visible query's strongest links. @param {Frame} f */
  request(f) {
    const focus = f.focus;
    if (focus && focus.kind !== "cell") {
      this.data = f.source.token({ ...f.id, kind: focus.kind, index: focus.index });
      return;
    }
    const wanted = this.linksWanted(f);
    const [q0] = this.visibleQueries();
    this.data = wanted
      ? f.source.links({ ...f.id, ...wanted })
      : { order: new Int32Array(0), weights: new Float32Array(0), width: 0, q0, q1: q0 };
  }

  /** @param {Frame} f @returns {boolean} false while the lines load */
  paint(f) {
    const focus = f.focus;
    let groups = null;
    if (this.data && focus && focus.kind !== "cell") {
      groups = linesFromToken(/** @type {TokenWeights} */ (this.data).values, focus.kind, focus.index, f.max, f.state.gamma);
    } else if (this.data) {
      const minRatio = Math.max(0, Math.min(1, Number(this.thresholdInput.value) || 0));
      groups = linesFromLinks(/** @type {Links} */ (this.data), f.max, f.state.gamma, minRatio);
    }
    this.draw({
      groups: groups || [], queryLabels: f.labels.queryLabels, keyLabels: f.labels.keyLabels,
      focus, theme: f.theme, fontSize: f.fontSize, lineScale: f.large ? 2 : 1,
    });
    return !!groups;
  }

  /** Scroll so that query row `q` is at the top (the lines follow a zoom). @param {number} q */
  showRow(q) {
    if (this.layout) this.scroller.scrollTop = q * this.layout.row;
  }

  /** Scroll as little as needed to bring row `index` into view (a token locked by key). @param {number} index */
  reveal(index) {
    const l = this.layout;
    if (!l) return;
    const top = l.top + index * l.row;
    const bottom = top + l.row;
    if (top < l.scrollTop + l.top) this.scroller.scrollTop = Math.max(0, top - l.top);
    else if (bottom > l.scrollTop + l.height - l.top) this.scroller.scrollTop = bottom - l.height + l.top;
  }

  /** Which token lies at canvas point (x, y). @returns {import("./lines.js").Focus} */
  hit(/** @type {number} */ x, /** @type {number} */ y) {
    return this.layout ? linesHit(this.layout, x, y) : null;
  }

  /**
   * Lay the columns out for the current scroll position.
   * @param {LinesSpec} s
   */
  layOut(s) {
    const layout = linesLayout({ ...linesOptions(s), scrollTop: this.scroller.scrollTop });
    this.scroller.style.height = `${layout.height}px`;
    this.scroller.style.width = `${layout.width}px`;
    this.spacer.style.height = `${layout.contentHeight - layout.height}px`;
    this.layout = layout;
    return layout;
  }

  /** Rows [first, last) of the query column that are in view. */
  visibleQueries() {
    if (!this.layout) return [0, 0];
    const [first, last] = visibleRows(this.layout);
    return [Math.min(first, this.layout.nq), Math.min(last, this.layout.nq)];
  }

  /**
   * @param {{groups: import("./lines.js").LineGroup[], queryLabels: string[], keyLabels: string[],
   *   focus: import("./lines.js").Focus, theme: import("./theme.js").Theme, fontSize: number,
   *   lineScale: number}} s
   */
  draw(s) {
    const layout = /** @type {import("./geometry.js").LinesLayout} */ (this.layout);
    const { theme, focus } = s;
    this.canvas.dataset.layout = JSON.stringify({
      top: layout.top, row: layout.row, nq: layout.nq, nk: layout.nk, leftX: layout.leftX,
      rightX: layout.rightX, lineStartX: layout.lineStartX, lineEndX: layout.lineEndX,
      width: layout.width, height: layout.height, scrollTop: layout.scrollTop,
      contentHeight: layout.contentHeight, fontSize: s.fontSize,
    });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    // A hovered cell dims the others so its own line stands out.
    const dim = focus && focus.kind === "cell" ? 0.25 : 1;
    ctx.strokeStyle = theme.line;
    ctx.lineCap = "round";
    for (const group of s.groups) {
      ctx.globalAlpha = group.alpha * dim;
      ctx.lineWidth = lineWidth(group.alpha, s.lineScale);
      ctx.beginPath();
      const p = group.pairs;
      for (let i = 0; i < p.length; i += 2) {
        ctx.moveTo(layout.lineStartX, rowY(layout, p[i]));
        ctx.lineTo(layout.lineEndX, rowY(layout, p[i + 1]));
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    if (focus && focus.kind === "cell") {
      ctx.strokeStyle = theme.highlight;
      ctx.lineWidth = 3 * s.lineScale;
      ctx.beginPath();
      ctx.moveTo(layout.lineStartX, rowY(layout, focus.q));
      ctx.lineTo(layout.lineEndX, rowY(layout, focus.k));
      ctx.stroke();
    }
    this.drawTokens(ctx, s, layout, fontOf(s.fontSize, theme.font));
  }

  drawTokens(ctx, s, layout, font) {
    const { theme, focus } = s;
    const focusQ = focus && (focus.kind === "query" ? focus.index : focus.kind === "cell" ? focus.q : -1);
    const focusK = focus && (focus.kind === "key" ? focus.index : focus.kind === "cell" ? focus.k : -1);
    const [first, last] = visibleRows(layout);
    ctx.textBaseline = "middle";
    const column = (labels, x, align, focusIndex) => {
      ctx.textAlign = align;
      // Labels sit on the background so that lines never run through them.
      for (let i = first; i < Math.min(last, labels.length); i++) {
        const isFocus = i === focusIndex;
        if (!isFocus && i % layout.labelStep !== 0) continue;
        ctx.font = isFocus ? `bold ${font}` : font;
        ctx.fillStyle = isFocus ? theme.highlight : theme.text;
        ctx.fillText(labels[i], x, rowY(layout, i));
      }
    };
    column(s.queryLabels, layout.leftX, "right", focusQ);
    column(s.keyLabels, layout.rightX, "left", focusK);
  }
}
