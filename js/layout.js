// The widget's DOM: the control row, the toolbar, the picture panels, the
// overview box and the tooltip. Built once; every text goes in as text.

import { element, slider, checkbox, guardKeys } from "./controls.js";

/**
 * @typedef {ReturnType<typeof slider>} Slider
 * @typedef {{root: HTMLElement, componentRow: HTMLElement, componentSelect: HTMLSelectElement,
 *   sliders: {layer: Slider, head: Slider, case: Slider, gamma: Slider},
 *   meanBox: {row: HTMLElement, input: HTMLInputElement}, toolbar: HTMLElement,
 *   overviewButton: HTMLButtonElement, resetZoomButton: HTMLButtonElement,
 *   regionsButton: HTMLButtonElement, projectorButton: HTMLButtonElement, sinksButton: HTMLButtonElement,
 *   status: HTMLElement, help: HTMLElement, keys: HTMLElement,
 *   views: HTMLElement, overviewBox: HTMLElement, tooltip: HTMLElement}} Layout
 * @typedef {{component: (name: string) => void, layer: (v: number) => void, head: (v: number) => void,
 *   case: (v: number) => void, gamma: (v: number) => void, mean: (on: boolean) => void,
 *   overview: () => void, resetZoom: () => void, regions: () => void, projector: () => void,
 *   sinks: () => void, keys: () => void}} Actions
 */

export const HELP = [
  "Hover a token or a cell: its lines and its row / column light up.",
  "Click: lock the selection · click again or Esc: unlock.",
  "Heatmap: wheel zooms · drag a box to zoom · shift+drag pans · double-click resets.",
  "Sliders: arrow keys step the focused slider.",
  "Keys on the view: [ ] layer · , . head · m mean of heads · < > generation step · j k (↓ ↑) next / previous token · + − zoom · 0 reset zoom · ? all keys.",
].join("\n");

/** The keys of the view (once it has focus: click a picture), as the `?` list shows them. */
export const KEYS = [
  ["[  ]", "previous / next layer"],
  [",  .", "previous / next head"],
  ["m", "mean of heads on / off"],
  ["<  >", "previous / next generation step"],
  ["j  ↓  →", "lock the next token"],
  ["k  ↑  ←", "lock the previous token"],
  ["Esc", "unlock the token (or close this list)"],
  ["+  −  0", "zoom the heatmap in / out / back"],
  ["?", "show / hide this list"],
];

/** @param {string} className @param {string} text @param {Record<string, string>} [attrs] */
function button(className, text, attrs = {}) {
  return /** @type {HTMLButtonElement} */ (element("button", { type: "button", class: `aw-button ${className}`, ...attrs }, text));
}

/**
 * Build the widget's DOM; `actions` are called on the user's input.
 * @param {Actions} actions
 * @returns {Layout}
 */
export function buildLayout(actions) {
  const root = element("div", { class: "aw-root", tabindex: "-1" });
  guardKeys(root);
  const controls = element("div", { class: "aw-controls" });
  const componentRow = element("label", { class: "aw-component" });
  const componentSelect = /** @type {HTMLSelectElement} */ (element("select", { class: "aw-component-select" }));
  guardKeys(componentSelect);
  componentSelect.addEventListener("change", () => actions.component(componentSelect.value));
  componentRow.append(element("span", { class: "aw-control-name" }, "component"), componentSelect);
  const int = (/** @type {number} */ v) => String(v);
  const sliders = {
    layer: slider({ dim: "layer", label: "layer", min: 0, max: 0, step: 1, format: int, onInput: actions.layer }),
    head: slider({ dim: "head", label: "head", min: 0, max: 0, step: 1, format: int, onInput: actions.head }),
    case: slider({ dim: "case", label: "case", min: 0, max: 0, step: 1, format: int, onInput: actions.case }),
    gamma: slider({ dim: "gamma", label: "contrast γ", min: 0.1, max: 5, step: 0.05, format: (v) => v.toFixed(2), onInput: actions.gamma }),
  };
  const meanBox = checkbox({ label: "mean of heads", onChange: actions.mean });
  controls.append(componentRow, sliders.layer.row, sliders.head.row, meanBox.row, sliders.case.row, sliders.gamma.row);

  const toolbar = element("div", { class: "aw-toolbar" });
  const overviewButton = button("aw-overview-toggle", "overview", { "aria-pressed": "false" });
  overviewButton.addEventListener("click", actions.overview);
  const resetZoomButton = button("aw-reset-zoom", "reset zoom", { hidden: "" });
  resetZoomButton.addEventListener("click", actions.resetZoom);
  const regionsButton = button("aw-regions-toggle", "regions", {
    "aria-pressed": "false", title: "draw the regions that stand out (attn_widget.regions)",
  });
  regionsButton.addEventListener("click", actions.regions);
  const projectorButton = button("aw-projector-toggle", "projector", {
    "aria-pressed": "false", title: "large type, thick lines, high contrast: for a projector",
  });
  projectorButton.addEventListener("click", actions.projector);
  const sinksButton = button("aw-sinks-toggle", "sinks", {
    "aria-pressed": "false", title: "leave the first token (an attention sink) out of the colour scale",
  });
  sinksButton.addEventListener("click", actions.sinks);
  const help = element("span", { class: "aw-button aw-help", tabindex: "0", role: "button", title: HELP, "aria-label": HELP }, "?");
  help.addEventListener("click", actions.keys);
  help.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      actions.keys();
    }
  });
  const status = element("span", { class: "aw-status", role: "status", "aria-live": "polite" });
  toolbar.append(overviewButton, regionsButton, sinksButton, projectorButton, resetZoomButton, help, status);

  const views = element("div", { class: "aw-views" });
  const overviewBox = element("div", { class: "aw-overview", hidden: "" });
  const tooltip = element("div", { class: "aw-tooltip", role: "tooltip", hidden: "" });
  const keys = keyList();
  root.append(controls, toolbar, views, overviewBox, tooltip, keys);
  return {
    root, componentRow, componentSelect, sliders, meanBox, toolbar, overviewButton, resetZoomButton,
    regionsButton, projectorButton, sinksButton, status, help, keys, views, overviewBox, tooltip,
  };
}

/** The list of keys `?` shows over the view (every text as text). */
function keyList() {
  const list = element("div", { class: "aw-keys", role: "note", "aria-label": "keys of the view", hidden: "" });
  list.append(element("div", { class: "aw-keys-title" }, "Keys (click a picture first)"));
  for (const [keys, meaning] of KEYS) {
    const row = element("div", { class: "aw-keys-row" });
    row.append(element("kbd", {}, keys), element("span", {}, meaning));
    list.append(row);
  }
  return list;
}

/**
 * Show the state in the controls (a Python-side change moves them too).
 * @param {Layout} ui
 * @param {import("./codec.js").Header} header
 * @param {import("./store.js").ViewState} s
 */
export function syncControls(ui, header, s) {
  ui.sliders.layer.set(s.layer, 0, header.n_layers - 1);
  ui.sliders.head.set(s.head, 0, header.n_heads - 1);
  ui.sliders.case.set(s.case, 0, header.n_cases - 1);
  // Projector mode shows the class no control that cannot move.
  ui.sliders.case.row.hidden = s.large && header.n_cases < 2;
  ui.sliders.gamma.set(s.gamma);
  ui.sliders.head.input.classList.toggle("aw-inactive", s.mean);
  ui.meanBox.input.checked = s.mean;
  ui.meanBox.input.disabled = header.n_heads < 2;
  ui.componentSelect.value = s.component;
  ui.root.classList.toggle("aw-large", s.large);
  ui.projectorButton.setAttribute("aria-pressed", String(s.large));
  ui.overviewBox.hidden = !s.overview;
  ui.overviewButton.setAttribute("aria-pressed", String(s.overview));
  ui.regionsButton.setAttribute("aria-pressed", String(s.regions));
  ui.sinksButton.setAttribute("aria-pressed", String(s.sinks));
  ui.resetZoomButton.hidden = !s.window;
  ui.keys.hidden = !s.keys;
  ui.help.setAttribute("aria-expanded", String(s.keys));
}

/**
 * New data: the component choice lists the data's components.
 * @param {Layout} ui
 * @param {import("./codec.js").Header} header
 */
export function showComponents(ui, header) {
  ui.componentSelect.replaceChildren(...header.components.map((name) => element("option", { value: name }, name)));
  ui.componentRow.hidden = header.components.length < 2;
}

/**
 * A status line: "loading…", an error (as an alert), or a message.
 * @param {Layout} ui
 * @param {string} text
 * @param {boolean} [isError]
 * @param {string} [kind]
 */
export function showStatus(ui, text, isError = false, kind = "") {
  ui.status.textContent = text;
  ui.status.classList.toggle("aw-error", isError);
  ui.status.dataset.kind = kind;
  ui.status.setAttribute("role", isError ? "alert" : "status");
}
