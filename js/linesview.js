// The token-line picture: query tokens on the left, key tokens on the right,
// one line per visible pair, opacity and width from (w / max) ** gamma.

import { linesLayout, rowY } from "./geometry.js";
import { selectLines, lineWidth, defaultTopK } from "./lines.js";
import { prepareCanvas, widestLabel, fontOf } from "./draw.js";

export class LinesPicture {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.layout = null;
    this.cacheKey = "";
    this.cached = [];
  }

  /**
   * @param {{slice: import("./slices.js").Slice, sliceKey: string, gamma: number,
   *   queryLabels: string[], keyLabels: string[], focus: import("./lines.js").Focus,
   *   theme: import("./theme.js").Theme, fontSize: number, maxSize: number, lineScale: number}} s
   */
  draw(s) {
    const { slice, theme, focus, fontSize } = s;
    const font = fontOf(fontSize, theme.font);
    const ctx0 = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext("2d"));
    const layout = linesLayout({
      nq: slice.q,
      nk: slice.k,
      queryLabelWidth: widestLabel(ctx0, s.queryLabels, font),
      keyLabelWidth: widestLabel(ctx0, s.keyLabels, font),
      maxHeight: s.maxSize,
      maxRow: Math.max(22, fontSize * 1.8),
      gap: Math.max(160, fontSize * 12),
      labelPitch: fontSize + 1,
    });
    this.layout = layout;
    this.canvas.dataset.layout = JSON.stringify({
      top: layout.top, row: layout.row, nq: layout.nq, nk: layout.nk, leftX: layout.leftX,
      rightX: layout.rightX, lineStartX: layout.lineStartX, lineEndX: layout.lineEndX,
      width: layout.width, height: layout.height,
    });
    const ctx = prepareCanvas(this.canvas, layout.width, layout.height);
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);

    const tokenFocus = focus && focus.kind !== "cell" ? focus : null;
    let groups;
    if (tokenFocus) {
      groups = selectLines(slice.values, slice.q, slice.k, slice.max, s.gamma, { focus: tokenFocus });
    } else {
      const key = `${s.sliceKey}|${s.gamma}`;
      if (key !== this.cacheKey) {
        const topK = defaultTopK(slice.q, slice.k);
        this.cached = selectLines(slice.values, slice.q, slice.k, slice.max, s.gamma, { topK });
        this.cacheKey = key;
      }
      groups = this.cached;
    }
    // A hovered cell dims the others so its own line stands out.
    const dim = focus && focus.kind === "cell" ? 0.25 : 1;
    ctx.strokeStyle = theme.line;
    ctx.lineCap = "round";
    for (const group of groups) {
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
    this.drawTokens(ctx, s, layout, font);
  }

  drawTokens(ctx, s, layout, font) {
    const { theme, focus } = s;
    const focusQ = focus && (focus.kind === "query" ? focus.index : focus.kind === "cell" ? focus.q : -1);
    const focusK = focus && (focus.kind === "key" ? focus.index : focus.kind === "cell" ? focus.k : -1);
    ctx.textBaseline = "middle";
    const column = (labels, x, align, focusIndex) => {
      ctx.textAlign = align;
      for (let i = 0; i < labels.length; i++) {
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
