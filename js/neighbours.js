// Which slices the view prefetches after a paint: further along the way the
// last slider moved first, then every neighbour of the current slice.

/**
 * @param {{layer: number, head: number, mean: boolean}} at the slice shown now
 * @param {{dl: number, dh: number}} move the direction of the last slider move
 * @param {number} nLayers
 * @param {number} nHeads
 * @returns {{layer: number, head: number | null}[]} nearest wishes first; head null is the head mean
 */
export function neighbours(at, move, nLayers, nHeads) {
  /** @type {{layer: number, head: number | null}[]} */
  const out = [];
  // The mean is its own slice (head null); a head index stepping below 0 is
  // outside the grid, never the mean.
  const add = (layer, head) => {
    if (layer < 0 || layer >= nLayers) return;
    if (!at.mean && (head < 0 || head >= nHeads)) return;
    const h = at.mean ? null : head;
    if (!out.some((o) => o.layer === layer && o.head === h)) out.push({ layer, head: h });
  };
  const { dl, dh } = move;
  if (dl || dh) for (const step of [1, 2, 3]) add(at.layer + dl * step, at.head + (at.mean ? 0 : dh * step));
  add(at.layer + 1, at.head);
  add(at.layer - 1, at.head);
  if (!at.mean) {
    add(at.layer, at.head + 1);
    add(at.layer, at.head - 1);
  }
  return out.filter((o) => !(o.layer === at.layer && (at.mean || o.head === at.head)));
}
