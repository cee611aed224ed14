// The tooltip: what is under the pointer, in words and numbers. The rows are
// worked out here without the DOM (unit-tested); token text goes in as text.

import { formatValue } from "./colormap.js";
import { visibleToken } from "./geometry.js";
import { element } from "./controls.js";

/**
 * @typedef {[string, string, string?]} Row  name, text, and "value" for numbers
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {{value: number, pooled: boolean, q0: number, q1: number, k0: number, k1: number}} Shown
 */

/**
 * The tooltip's rows for a hit.
 * @param {NonNullable<Focus>} hit
 * @param {{queryTokens: string[], keyTokens: string[], shown: Shown | null, exact: boolean,
 *   analysis?: {tooltip: [string, string, number][]} | null,
 *   overlay?: import("./codec.js").Overlay | null}} at
 * @returns {Row[]}
 */
export function tooltipRows(hit, at) {
  /** @type {Row[]} */
  const rows = [];
  if (hit.kind !== "cell") {
    const tokens = hit.kind === "query" ? at.queryTokens : at.keyTokens;
    rows.push([`${hit.kind} ${hit.index}: `, visibleToken(tokens[hit.index])]);
    return rows;
  }
  rows.push([`query ${hit.q}: `, visibleToken(at.queryTokens[hit.q])], [`key ${hit.k}: `, visibleToken(at.keyTokens[hit.k])]);
  const shown = at.shown;
  if (shown && shown.pooled) {
    rows.push(["max of block: ", formatValue(shown.value, 3), "value"],
      ["", `rows ${shown.q0}–${shown.q1 - 1}, cols ${shown.k0}–${shown.k1 - 1} (zoom in for single cells)`]);
  } else if (shown && !at.analysis) {
    rows.push(["value: ", formatValue(shown.value, at.exact ? 4 : 3), "value"]);
  }
  if (at.analysis && at.overlay) rows.push(...analysisRows(hit, at.analysis.tooltip, at.overlay));
  return rows;
}

/**
 * An analysis view's numbers behind a cell, as the kernel named them.
 * @param {{q: number, k: number}} hit
 * @param {[string, string, number][]} spec label, channel, digits
 * @param {import("./codec.js").Overlay} overlay
 * @returns {Row[]}
 */
export function analysisRows(hit, spec, overlay) {
  const at = hit.q * overlay.k + hit.k;
  return spec.map(([label, channel, digits]) => {
    const values = overlay.channels[channel];
    const steps = channel === "values" ? overlay.steps : 1;
    const shown = Array.from(values.subarray(at * steps, at * steps + steps), (v) => formatValue(v, digits || 3));
    return /** @type {Row} */ ([`${label}: `, shown.join(", "), "value"]);
  });
}

/**
 * Show rows beside the pointer, or hide the tooltip (no rows).
 * @param {HTMLElement} tooltip
 * @param {Row[] | null} rows
 * @param {{x: number, y: number} | null} at pointer position relative to the widget's root
 */
export function showTooltip(tooltip, rows, at) {
  if (!rows || !rows.length || !at) {
    tooltip.hidden = true;
    return;
  }
  tooltip.replaceChildren(
    ...rows.map(([name, text, kind]) => {
      const row = element("div", {});
      row.append(element("span", { class: "aw-tip-name" }, name), element("span", { class: kind === "value" ? "aw-tip-value" : "aw-tip-token" }, text));
      return row;
    }),
  );
  tooltip.style.left = `${at.x + 14}px`;
  tooltip.style.top = `${at.y + 14}px`;
  tooltip.hidden = false;
}
