// Canvas helpers shared by both pictures.

/**
 * Size a canvas for the device pixel ratio and return a context in CSS pixels.
 * @param {HTMLCanvasElement} canvas
 * @param {number} width CSS px
 * @param {number} height CSS px
 */
export function prepareCanvas(canvas, width, height) {
  const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
  const w = Math.ceil(width * dpr);
  const h = Math.ceil(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Widest rendered label among `labels` in the given font. */
export function widestLabel(ctx, labels, font) {
  ctx.font = font;
  let widest = 0;
  for (const label of labels) widest = Math.max(widest, ctx.measureText(label).width);
  return widest;
}

/** Canvas font string for a size and family. */
export function fontOf(px, family, bold = false) {
  return `${bold ? "bold " : ""}${px}px ${family}`;
}
