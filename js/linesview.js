// The token-line picture: query tokens on the left, key tokens on the right,
// one line per drawn link, opacity and width from (w / max) ** gamma.
// Long inputs scroll: rows keep a readable height, only visible rows are drawn,
// and lines to tokens out of view run off the edge towards them.

import { linesLayout, rowY, visibleRows } from "./geometry.js";
import { lineWidth } from "./lines.js";
import { prepareCanvas, fontOf } from "./draw.js";
import { element } from "./controls.js";

export class LinesPicture {
  constructor() {
    this.scroller = element("div", { class: "aw-lines-scroll" });
    this.canvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-lines", tabindex: "0", role: "img", "aria-label": "attention token lines" })
    );
    this.spacer = element("div", { class: "aw-lines-spacer" });
    this.scroller.append(this.canvas, this.spacer);
    /** @type {import("./geometry.js").LinesLayout | null} */
    this.layout = null;
  }

  /**
   * Lay the columns out for the current scroll position.
   * @param {{nq: number, nk: number, labelWidth: {query: number, key: number}, fontSize: number, maxSize: number}} s
   */
  place(s) {
    const layout = linesLayout({
      nq: s.nq,
      nk: s.nk,
      queryLabelWidth: s.labelWidth.query,
      keyLabelWidth: s.labelWidth.key,
      maxHeight: s.maxSize,
      maxRow: Math.max(22, s.fontSize * 1.8),
      minRow: s.fontSize + 3,
      gap: Math.max(160, s.fontSize * 12),
      labelPitch: s.fontSize + 1,
      scrollTop: this.scroller.scrollTop,
    });
    this.scroller.style.height = `${layout.height}px`;
    this.scroller.style.width = `${layout.width}px`;
    this.spacer.style.height = `${layout.contentHeight - layout.height}px`;
    this.layout = layout;
    return layout;
  }

  /** Rows [first, last) of the query column that are in view. */
  visibleQueries() {
    const [first, last] = visibleRows(this.layout);
    return [Math.min(first, this.layout.nq), Math.min(last, this.layout.nq)];
  }

  /**
   * @param {{groups: import("./lines.js").LineGroup[], queryLabels: string[], keyLabels: string[],
   *   focus: import("./lines.js").Focus, theme: import("./theme.js").Theme, fontSize: number,
   *   lineScale: number}} s
   */
  draw(s) {
    const layout = this.layout;
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
