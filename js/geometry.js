// Pure geometry of the two pictures: where cells, tokens and lines are, and
// what lies under the mouse. No DOM here, so it is unit-tested in node.

/**
 * @typedef {{x0: number, y0: number, cell: number, nq: number, nk: number,
 *   matrixWidth: number, matrixHeight: number, width: number, height: number,
 *   barX: number, labelStepQ: number, labelStepK: number}} HeatmapLayout
 */

/** Text height (px) a label row needs before labels start to be thinned. */
export const MIN_LABEL_PITCH = 12;

/**
 * Lay out the heatmap: query labels on the left, key labels on top, the
 * matrix with square cells, the colour bar on the right.
 * @param {{nq: number, nk: number, queryLabelWidth: number, keyLabelHeight: number,
 *   maxMatrixSize?: number, maxCell?: number, labelPitch?: number}} opts
 * @returns {HeatmapLayout}
 */
export function heatmapLayout(opts) {
  const { nq, nk } = opts;
  const maxMatrix = opts.maxMatrixSize ?? 440;
  const maxCell = opts.maxCell ?? 28;
  const pitch = opts.labelPitch ?? MIN_LABEL_PITCH;
  const longest = Math.max(nq, nk);
  // Whole pixels per cell while cells are at least a pixel; fractional beyond.
  const fit = maxMatrix / longest;
  const cell = fit >= 1 ? Math.min(maxCell, Math.floor(fit)) : fit;
  const x0 = Math.ceil(opts.queryLabelWidth) + 8;
  const y0 = Math.ceil(opts.keyLabelHeight) + 8;
  const matrixWidth = cell * nk;
  const matrixHeight = cell * nq;
  const barX = x0 + matrixWidth + 16;
  return {
    x0, y0, cell, nq, nk, matrixWidth, matrixHeight,
    width: barX + 14 + 48,
    height: y0 + Math.max(matrixHeight, 120) + 10,
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
  if (inCols && inRows) return { kind: "cell", q: row, k: col };
  if (inRows && x < x0 && x >= 0) return { kind: "query", index: row };
  if (inCols && y < y0 && y >= 0) return { kind: "key", index: col };
  return null;
}

/**
 * @typedef {{top: number, row: number, nq: number, nk: number, leftX: number, rightX: number,
 *   lineStartX: number, lineEndX: number, width: number, height: number, labelStep: number}} LinesLayout
 */

/**
 * Lay out the token-line picture: query tokens right-aligned in a left
 * column, key tokens left-aligned in a right column, lines between them.
 * @param {{nq: number, nk: number, queryLabelWidth: number, keyLabelWidth: number,
 *   maxHeight?: number, maxRow?: number, gap?: number, labelPitch?: number}} opts
 * @returns {LinesLayout}
 */
export function linesLayout(opts) {
  const { nq, nk } = opts;
  const maxHeight = opts.maxHeight ?? 440;
  const maxRow = opts.maxRow ?? 22;
  const gap = opts.gap ?? 160;
  const longest = Math.max(nq, nk);
  const row = Math.min(maxRow, maxHeight / longest);
  const top = 10;
  const leftX = Math.ceil(opts.queryLabelWidth) + 8;
  const lineStartX = leftX + 6;
  const lineEndX = lineStartX + gap;
  const rightX = lineEndX + 6;
  return {
    top, row, nq, nk, leftX, rightX, lineStartX, lineEndX,
    width: rightX + Math.ceil(opts.keyLabelWidth) + 8,
    height: top * 2 + row * longest,
    labelStep: labelStep(row, opts.labelPitch ?? MIN_LABEL_PITCH),
  };
}

/** Vertical centre of token `index` in a column. */
export function rowY(layout, index) {
  return layout.top + (index + 0.5) * layout.row;
}

/**
 * Which token lies at (x, y) of the token-line picture.
 * @param {LinesLayout} layout
 * @returns {null | {kind: "query" | "key", index: number}}
 */
export function linesHit(layout, x, y) {
  const index = Math.floor((y - layout.top) / layout.row);
  if (x < layout.lineStartX && x >= 0 && index >= 0 && index < layout.nq) {
    return { kind: "query", index };
  }
  if (x > layout.lineEndX && x < layout.width && index >= 0 && index < layout.nk) {
    return { kind: "key", index };
  }
  return null;
}

/** Shorten a token label to `maxChars`, marking the cut with an ellipsis. */
export function truncateLabel(text, maxChars = 16) {
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : chars.slice(0, maxChars - 1).join("") + "…";
}
