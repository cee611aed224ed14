// Pure geometry of the two pictures: where cells, tokens and lines are, and
// what lies under the mouse. No DOM here, so it is unit-tested in node.

/**
 * @typedef {{x0: number, y0: number, cell: number, nq: number, nk: number, q0: number, k0: number,
 *   matrixWidth: number, matrixHeight: number, width: number, height: number,
 *   barX: number, labelStepQ: number, labelStepK: number}} HeatmapLayout
 * nq × nk cells of the window starting at row q0, column k0 are shown.
 */

/** Text height (px) a label row needs before labels start to be thinned. */
export const MIN_LABEL_PITCH = 12;

/**
 * Lay out the heatmap: query labels on the left, key labels on top, the
 * matrix with square cells, the colour bar on the right.
 * @param {{nq: number, nk: number, q0?: number, k0?: number, queryLabelWidth: number,
 *   keyLabelHeight: number, maxMatrixSize?: number, maxCell?: number, labelPitch?: number,
 *   barLabelWidth?: number}} opts
 * @returns {HeatmapLayout}
 */
export function heatmapLayout(opts) {
  const { nq, nk } = opts;
  const q0 = opts.q0 ?? 0;
  const k0 = opts.k0 ?? 0;
  const maxMatrix = opts.maxMatrixSize ?? 440;
  const maxCell = opts.maxCell ?? 28;
  const pitch = opts.labelPitch ?? MIN_LABEL_PITCH;
  const longest = Math.max(nq, nk);
  // The matrix keeps one size on screen (cells up to maxCell), so that zooming
  // keeps the point under the mouse where it was.
  const cell = Math.min(maxCell, maxMatrix / longest);
  const x0 = Math.ceil(opts.queryLabelWidth) + 8;
  const y0 = Math.ceil(opts.keyLabelHeight) + 8;
  const matrixWidth = cell * nk;
  const matrixHeight = cell * nq;
  const barX = x0 + matrixWidth + 16;
  return {
    x0, y0, cell, nq, nk, q0, k0, matrixWidth, matrixHeight,
    width: barX + 14 + (opts.barLabelWidth ?? 48),
    height: y0 + Math.max(matrixHeight, 120) + 22, // room for a note under the colour bar
    barX,
    labelStepQ: labelStep(cell, pitch),
    labelStepK: labelStep(cell, pitch),
  };
}

/** Show every `step`-th label so that labels never overlap. */
export function labelStep(cell, pitch = MIN_LABEL_PITCH) {
  return cell >= pitch ? 1 : Math.ceil(pitch / cell);
}

/**
 * What lies at (x, y) of the heatmap: a cell, a query label row, a key label column, or nothing.
 * @param {HeatmapLayout} layout
 * @param {number} x
 * @param {number} y
 * @returns {null | {kind: "cell", q: number, k: number} | {kind: "query" | "key", index: number}}
 */
export function heatmapHit(layout, x, y) {
  const { x0, y0, cell, nq, nk } = layout;
  const col = Math.floor((x - x0) / cell);
  const row = Math.floor((y - y0) / cell);
  const inCols = x >= x0 && col >= 0 && col < nk;
  const inRows = y >= y0 && row >= 0 && row < nq;
  const q = row + (layout.q0 ?? 0);
  const k = col + (layout.k0 ?? 0);
  if (inCols && inRows) return { kind: "cell", q, k };
  if (inRows && x < x0 && x >= 0) return { kind: "query", index: q };
  if (inCols && y < y0 && y >= 0) return { kind: "key", index: k };
  return null;
}

/** The point (x, y) in fractional matrix coordinates: the zoom anchor. */
export function matrixPoint(layout, x, y) {
  return { q: layout.q0 + (y - layout.y0) / layout.cell, k: layout.k0 + (x - layout.x0) / layout.cell };
}

/**
 * The matrix cell nearest to (x, y), clamped into the window: drag anchors.
 * @param {HeatmapLayout} layout
 */
export function cellNear(layout, x, y) {
  const col = Math.min(layout.nk - 1, Math.max(0, Math.floor((x - layout.x0) / layout.cell)));
  const row = Math.min(layout.nq - 1, Math.max(0, Math.floor((y - layout.y0) / layout.cell)));
  return { q: row + layout.q0, k: col + layout.k0 };
}

/**
 * Zoom a window around an anchor point by `factor` (< 1 zooms in), kept inside the matrix.
 * The anchor is in fractional matrix coordinates (cell (q, k) spans q..q+1) and
 * stays at the same place on screen.
 * @param {{q0: number, q1: number, k0: number, k1: number}} w
 * @param {{q: number, k: number}} anchor
 * @param {number} factor
 * @param {number} nq full matrix rows
 * @param {number} nk full matrix columns
 * @param {number} [minCells] the smallest window side
 */
export function zoomWindow(w, anchor, factor, nq, nk, minCells = 4) {
  const axis = (lo, hi, at, n) => {
    const size = Math.min(n, Math.max(Math.min(minCells, n), Math.round((hi - lo) * factor)));
    const ratio = (at - lo) / (hi - lo);
    let start = Math.round(at - ratio * size);
    start = Math.min(n - size, Math.max(0, start));
    return [start, start + size];
  };
  const [q0, q1] = axis(w.q0, w.q1, anchor.q, nq);
  const [k0, k1] = axis(w.k0, w.k1, anchor.k, nk);
  return { q0, q1, k0, k1 };
}

/** Move a window by (dq, dk) cells, kept inside the matrix. */
export function panWindow(w, dq, dk, nq, nk) {
  const shift = (lo, hi, d, n) => {
    const move = Math.min(n - hi, Math.max(-lo, d));
    return [lo + move, hi + move];
  };
  const [q0, q1] = shift(w.q0, w.q1, Math.round(dq), nq);
  const [k0, k1] = shift(w.k0, w.k1, Math.round(dk), nk);
  return { q0, q1, k0, k1 };
}

/** The window spanned by two cells (a drag box), at least one cell. */
export function boxWindow(a, b) {
  return {
    q0: Math.min(a.q, b.q), q1: Math.max(a.q, b.q) + 1,
    k0: Math.min(a.k, b.k), k1: Math.max(a.k, b.k) + 1,
  };
}

/**
 * @typedef {{top: number, row: number, nq: number, nk: number, leftX: number, rightX: number,
 *   lineStartX: number, lineEndX: number, width: number, height: number, contentHeight: number,
 *   scrollTop: number, labelStep: number}} LinesLayout
 * `height` is the visible part; `contentHeight` the whole column; `scrollTop` how far it is scrolled.
 */

/**
 * Lay out the token-line picture: query tokens right-aligned in a left
 * column, key tokens left-aligned in a right column, lines between them.
 * Rows never get smaller than `minRow`: long inputs scroll instead.
 * @param {{nq: number, nk: number, queryLabelWidth: number, keyLabelWidth: number,
 *   maxHeight?: number, maxRow?: number, minRow?: number, gap?: number, labelPitch?: number,
 *   scrollTop?: number}} opts
 * @returns {LinesLayout}
 */
export function linesLayout(opts) {
  const { nq, nk } = opts;
  const maxHeight = opts.maxHeight ?? 440;
  const maxRow = opts.maxRow ?? 22;
  const minRow = opts.minRow ?? 14;
  const gap = opts.gap ?? 160;
  const longest = Math.max(nq, nk);
  const row = Math.max(minRow, Math.min(maxRow, maxHeight / longest));
  const top = 10;
  const leftX = Math.ceil(opts.queryLabelWidth) + 8;
  const lineStartX = leftX + 6;
  const lineEndX = lineStartX + gap;
  const rightX = lineEndX + 6;
  const contentHeight = top * 2 + row * longest;
  const height = Math.min(contentHeight, maxHeight + top * 2);
  const scrollTop = Math.max(0, Math.min(contentHeight - height, opts.scrollTop ?? 0));
  return {
    top, row, nq, nk, leftX, rightX, lineStartX, lineEndX,
    width: rightX + Math.ceil(opts.keyLabelWidth) + 8,
    height, contentHeight, scrollTop,
    labelStep: labelStep(row, opts.labelPitch ?? MIN_LABEL_PITCH),
  };
}

/** Vertical centre of token `index` in a column, in visible (scrolled) coordinates. */
export function rowY(layout, index) {
  return layout.top + (index + 0.5) * layout.row - (layout.scrollTop ?? 0);
}

/** Rows [first, last) of the longer column that are at least partly visible. */
export function visibleRows(layout) {
  const first = Math.max(0, Math.floor((layout.scrollTop - layout.top) / layout.row));
  const last = Math.ceil((layout.scrollTop + layout.height - layout.top) / layout.row);
  return [first, Math.max(first, last)];
}

/**
 * Which token lies at (x, y) of the token-line picture (visible coordinates).
 * @param {LinesLayout} layout
 * @returns {null | {kind: "query" | "key", index: number}}
 */
export function linesHit(layout, x, y) {
  const index = Math.floor((y + (layout.scrollTop ?? 0) - layout.top) / layout.row);
  if (x < layout.lineStartX && x >= 0 && index >= 0 && index < layout.nq) {
    return { kind: "query", index };
  }
  if (x > layout.lineEndX && x < layout.width && index >= 0 && index < layout.nk) {
    return { kind: "key", index };
  }
  return null;
}

// What a font or an encoder cannot take (attn_widget/token_text.py has the
// rules, and js/tests/tokens.test.js checks both sides against one corpus).
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\u2028\u2029\uFDD0-\uFDEF\uFFFE\uFFFF\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{EFFFE}\u{EFFFF}\u{FFFFE}\u{FFFFF}\u{10FFFE}\u{10FFFF}]/u;
const JOINERS = new Set(["\u200c", "\u200d"]);

/** The stand-in of one character, or null when it is shown as it is (joiners aside). @param {string} c */
function standIn(c) {
  const code = /** @type {number} */ (c.codePointAt(0));
  if (code < 0x20) return String.fromCodePoint(0x2400 + code); // ␀..␟
  if (code === 0x7f) return "␡";
  if (JOINERS.has(c) || !HIDDEN.test(c)) return null;
  return `⟨U+${code.toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/**
 * A token as it is shown: controls, format characters (BOM, direction
 * overrides), lone surrogates, private-use and noncharacters made visible
 * (a token must not reverse, hide or break its neighbours); a joiner stays
 * only between two characters that stay; a leading combining mark gets a
 * dotted circle; an empty token is ∅.
 * @param {string} text
 */
export function visibleToken(text) {
  if (text === "") return "∅";
  const chars = Array.from(text); // code points; a lone surrogate stays one
  const replaced = chars.map(standIn);
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    let shown = replaced[i];
    if (shown === null && JOINERS.has(chars[i])) {
      const kept = i > 0 && i < chars.length - 1 && replaced[i - 1] === null && replaced[i + 1] === null
        && !JOINERS.has(chars[i - 1]) && !JOINERS.has(chars[i + 1]);
      if (!kept) shown = `⟨U+${/** @type {number} */ (chars[i].codePointAt(0)).toString(16).toUpperCase().padStart(4, "0")}⟩`;
    }
    out += shown === null ? chars[i] : shown;
  }
  return /^\p{M}/u.test(out) ? `\u25cc${out}` : out;
}

/** Shorten a token label to `maxChars`, marking the cut with an ellipsis. */
export function truncateLabel(text, maxChars = 16) {
  const chars = Array.from(visibleToken(text));
  return chars.length <= maxChars ? chars.join("") : chars.slice(0, maxChars - 1).join("") + "…";
}
