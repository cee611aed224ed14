// Analysis overlays drawn over the heatmap cells (attn_widget.analysis):
//   compare    a circle in each cell, filled with B's colour, radius ∝ |A − B|
//   stability  a circle whose fill runs from mean − k·spread (centre) to mean + k·spread (edge)
//   evolution  a sparkline of the cell's value across checkpoints
// The kernel computes every number (radii, bounds, scaled series); this only draws.

import { contrast, lutColor, lutLuminance } from "./colormap.js";

/** Cells smaller than this (px) get no overlay: it would be noise. */
export const MIN_OVERLAY_CELL = 6;

/**
 * Points of a sparkline across a cell: x runs over the cell with a margin, y
 * goes up with the (already 0..1 scaled) series.
 * @param {number} x cell left
 * @param {number} y cell top
 * @param {number} size cell side
 * @param {ArrayLike<number>} series values in [0, 1]
 * @returns {number[]} flat [x0, y0, x1, y1, ...]
 */
export function sparklinePoints(x, y, size, series) {
  const margin = size * 0.12;
  const width = size - 2 * margin;
  const height = size - 2 * margin;
  const n = series.length;
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0.5 : i / (n - 1);
    const v = Math.max(0, Math.min(1, series[i]));
    out.push(x + margin + t * width, y + margin + (1 - v) * height);
  }
  return out;
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {{kind: string, channels: Record<string, Float32Array>, k: number, steps?: number}} overlay
 * @param {{x0: number, y0: number, cell: number, nq: number, nk: number, q0: number, k0: number}} layout
 * @param {{max: number, gamma: number, lut: Uint8ClampedArray, base: Float32Array}} colour
 */
export function drawOverlay(ctx, overlay, layout, colour) {
  const { cell, nq, nk, q0, k0, x0, y0 } = layout;
  if (cell < MIN_OVERLAY_CELL) return;
  const ch = overlay.channels;
  const fill = (v) => lutColor(colour.lut, contrast(v, colour.max, colour.gamma));
  ctx.save();
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nk; j++) {
      const q = q0 + i;
      const k = k0 + j;
      const at = q * overlay.k + k;
      const cx = x0 + (j + 0.5) * cell;
      const cy = y0 + (i + 0.5) * cell;
      if (overlay.kind === "compare" || overlay.kind === "stability") {
        const r = ch.radius[at] * cell;
        if (!(r > 0.25)) continue;
        ctx.beginPath();
        ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        if (overlay.kind === "compare") {
          ctx.fillStyle = fill(ch.b[at]);
        } else {
          const gradient = ctx.createRadialGradient(cx, cy, 0, cx, cy, r);
          gradient.addColorStop(0, fill(ch.low[at]));
          gradient.addColorStop(1, fill(ch.high[at]));
          ctx.fillStyle = gradient;
        }
        ctx.fill();
        // A thin ring that contrasts with the cell keeps the circle visible on any colour.
        const dark = lutLuminance(colour.lut, contrast(colour.base[at], colour.max, colour.gamma)) < 0.5;
        ctx.strokeStyle = dark ? "rgba(255,255,255,0.8)" : "rgba(0,0,0,0.7)";
        ctx.lineWidth = 1;
        ctx.stroke();
      } else if (overlay.kind === "evolution") {
        const steps = overlay.steps || 0;
        const series = ch.series.subarray(at * steps, at * steps + steps);
        const pts = sparklinePoints(x0 + j * cell, y0 + i * cell, cell, series);
        const dark = lutLuminance(colour.lut, contrast(colour.base[at], colour.max, colour.gamma)) < 0.5;
        ctx.strokeStyle = dark ? "#ffffff" : "#000000";
        ctx.lineWidth = Math.max(1, cell / 16);
        ctx.beginPath();
        for (let p = 0; p < pts.length; p += 2) {
          if (p === 0) ctx.moveTo(pts[p], pts[p + 1]);
          else ctx.lineTo(pts[p], pts[p + 1]);
        }
        ctx.stroke();
      }
    }
  }
  ctx.restore();
}
