// Projector mode lays its pictures out to fit the visible area: which
// pictures share a row, and how large each one is. Pure arithmetic on
// size functions (no DOM here), so node's tests drive it directly.
//
// Every picture grows with one scale t in [-1, 1] (0: its smallest readable
// size, 1: its preferred size; below 0 down to a last resort, for a room too
// small: still all in view, with fewer labels). For each way of splitting the
// pictures, in their order, into rows, the largest t that fits the box is
// found by bisection; the split with the largest t wins. A picture that can use more
// height (the token lines, which otherwise scroll) then takes what is left
// of its row and of the box.

/**
 * @typedef {{w: number, h: number}} Size
 * @typedef {{name: string, size: (t: number, room: number) => Size, fill?: boolean,
 *   stretch?: (height: number, t: number) => Size}} FitItem
 *   size: at scale t; a `fill` item (the generation's text) takes `room`, the width its row
 *   leaves it, and is the shorter the wider it is; stretch: the item given `height` in all
 *   (never more than it can use)
 * @typedef {{rows: string[][], t: number, fits: boolean, sizes: Record<string, Size>,
 *   width: number, height: number}} Fit
 *   width / height: of the whole arrangement, gaps included
 */

/** Bisection steps: t to within 2 / 2 ** 14. */
const STEPS = 14;
/** The lowest scale: every picture at its last-resort size. */
export const LOWEST = -1;

/**
 * Every split of `names`, kept in order, into consecutive rows; one row first.
 * @template T
 * @param {T[]} names
 * @returns {T[][][]}
 */
export function arrangements(names) {
  if (names.length <= 1) return [[names.slice()]];
  const out = [];
  // Bit i of `cuts` set: a new row starts after item i. Fewer rows first.
  const splits = [];
  for (let cuts = 0; cuts < 2 ** (names.length - 1); cuts++) splits.push(cuts);
  const bits = (/** @type {number} */ n) => n.toString(2).replace(/0/g, "").length;
  splits.sort((a, b) => bits(a) - bits(b) || a - b);
  for (const cuts of splits) {
    const rows = [[names[0]]];
    for (let i = 1; i < names.length; i++) {
      if (cuts & (1 << (i - 1))) rows.push([names[i]]);
      else rows[rows.length - 1].push(names[i]);
    }
    out.push(rows);
  }
  return out;
}

/**
 * The box the rows take at sizes `sizes`.
 * @param {string[][]} rows @param {Record<string, Size>} sizes @param {number} gap
 */
function extent(rows, sizes, gap) {
  let width = 0;
  let height = 0;
  for (const row of rows) {
    const w = row.reduce((sum, name) => sum + sizes[name].w, 0) + gap * (row.length - 1);
    width = Math.max(width, w);
    height += Math.max(...row.map((name) => sizes[name].h));
  }
  return { width, height: height + gap * (rows.length - 1) };
}

/**
 * Every item's size at scale t in these rows: the fixed ones first, then the
 * fill items share what their row leaves.
 * @param {Map<string, FitItem>} byName @param {string[][]} rows @param {number} t @param {number} width @param {number} gap
 */
function sizesAt(byName, rows, t, width, gap) {
  /** @type {Record<string, Size>} */
  const sizes = {};
  for (const row of rows) {
    const items = row.map((name) => /** @type {FitItem} */ (byName.get(name)));
    let used = gap * (row.length - 1);
    for (const item of items) {
      if (item.fill) continue;
      sizes[item.name] = item.size(t, 0);
      used += sizes[item.name].w;
    }
    const fills = items.filter((item) => item.fill);
    for (const item of fills) sizes[item.name] = item.size(t, Math.max(0, (width - used) / fills.length));
  }
  return sizes;
}

/**
 * Lay `items` out in `box`: the arrangement and sizes with the largest scale
 * that fits. When nothing fits even at the lowest scale, the arrangement that
 * overflows least, at that scale (fits: false).
 * @param {FitItem[]} items in the order they are shown
 * @param {{width: number, height: number}} box
 * @param {number} [gap] between pictures, both ways
 * @returns {Fit}
 */
export function fitPictures(items, box, gap = 16) {
  const byName = new Map(items.map((item) => [item.name, item]));
  /** @type {Fit | null} */
  let best = null;
  let bestOver = Infinity;
  let bestArea = -1;
  for (const rows of arrangements(items.map((item) => item.name))) {
    const fitsAt = (/** @type {number} */ t) => {
      const e = extent(rows, sizesAt(byName, rows, t, box.width, gap), gap);
      return e.width <= box.width && e.height <= box.height;
    };
    let t = LOWEST;
    let over = 0;
    const fits = fitsAt(LOWEST);
    if (!fits) {
      const e = extent(rows, sizesAt(byName, rows, LOWEST, box.width, gap), gap);
      over = Math.max(0, e.width - box.width) + Math.max(0, e.height - box.height);
    } else if (fitsAt(1)) t = 1;
    else {
      let hi = 1;
      for (let i = 0; i < STEPS; i++) {
        const mid = (t + hi) / 2;
        if (fitsAt(mid)) t = mid;
        else hi = mid;
      }
    }
    const found = settle(byName, rows, t, fits, box, gap);
    // Most scale first; at the same scale (one picture bounds it), the most picture.
    const area = Object.values(found.sizes).reduce((sum, s) => sum + s.w * s.h, 0);
    const better = !best
      || (fits && !best.fits)
      || (fits && best.fits && (t > best.t + 1e-3 || (t > best.t - 1e-3 && area > bestArea)))
      || (!fits && !best.fits && over < bestOver);
    if (better) {
      best = found;
      bestOver = over;
      bestArea = area;
    }
  }
  return /** @type {Fit} */ (best);
}

/**
 * The rows at scale t, a stretchable picture given what is left of its row and of the box.
 * @param {Map<string, FitItem>} byName @param {string[][]} rows @param {number} t @param {boolean} fits
 * @param {{width: number, height: number}} box @param {number} gap
 * @returns {Fit}
 */
function settle(byName, rows, t, fits, box, gap) {
  const sizes = sizesAt(byName, rows, t, box.width, gap);
  let spare = Math.max(0, box.height - extent(rows, sizes, gap).height);
  for (const row of rows) {
    const rowHeight = Math.max(...row.map((name) => sizes[name].h));
    for (const name of row) {
      const item = /** @type {FitItem} */ (byName.get(name));
      if (!item.stretch) continue;
      const grown = item.stretch(rowHeight + spare, t);
      if (grown.w > sizes[name].w && extent(rows, { ...sizes, [name]: grown }, gap).width > box.width) continue;
      spare -= Math.max(0, grown.h - rowHeight);
      sizes[name] = grown;
    }
  }
  const e = extent(rows, sizes, gap);
  return { rows, t, fits, sizes, width: e.width, height: e.height };
}

/**
 * The height of items that wrap into rows (a flex-wrap bar) in `width`.
 * @param {number[]} widths each item's width
 * @param {{width: number, rowHeight: number, gapX: number, gapY: number}} o
 */
export function wrappedHeight(widths, o) {
  if (!widths.length) return 0;
  let rows = 1;
  let x = 0;
  for (const w of widths) {
    if (x > 0 && x + o.gapX + w > o.width) {
      rows++;
      x = w;
    } else x += (x > 0 ? o.gapX : 0) + w;
  }
  return rows * o.rowHeight + (rows - 1) * o.gapY;
}

/**
 * A size at scale t: `floor` at t = -1, `lo` (the smallest readable) at 0, `hi` (preferred) at 1.
 * A `hi` below `lo` (a small input) is its size at every t >= 0.
 * @param {number} floor @param {number} lo @param {number} hi @param {number} t
 */
export function grow(floor, lo, hi, t) {
  const top = Math.max(floor, hi);
  const low = Math.min(lo, top);
  return t >= 0 ? low + (top - low) * t : low + (low - Math.min(floor, low)) * t;
}
