// attn_widget's view: linked heatmap and token-line pictures with sliders for
// layer, head, case and contrast, zoom, an overview grid and PDF export
// buttons. An anywidget module.

import { buildLut, COLORMAPS, formatValue } from "./colormap.js";
import { heatmapHit, linesHit, truncateLabel, visibleToken, cellNear, matrixPoint, zoomWindow, panWindow, boxWindow } from "./geometry.js";
import { HeatmapPicture } from "./heatmap.js";
import { LinesPicture } from "./linesview.js";
import { OverviewGrid, gridHit, THUMB } from "./overview.js";
import { DataSource } from "./source.js";
import { neighbours } from "./neighbours.js";
import { linesFromLinks, linesFromToken, defaultTopK } from "./lines.js";
import { readTheme } from "./theme.js";
import { widestLabel, fontOf } from "./draw.js";
import { element, slider, checkbox, guardKeys } from "./controls.js";

/** @typedef {import("./lines.js").Focus} Focus */

const EXPORT_KINDS = [
  ["heatmap", "PDF: heatmap"],
  ["lines", "PDF: lines"],
  ["grid", "PDF: grid"],
];
const EXPORT_TIMEOUT_MS = 120_000;
const HELP = [
  "Hover a token or a cell: its lines and its row / column light up.",
  "Click: lock the selection · click again or Esc: unlock.",
  "Heatmap: wheel zooms · drag a box to zoom · shift+drag pans · double-click resets.",
  "Sliders: arrow keys step the focused slider.",
  "Keys on the view: [ ] layer · , . head · m mean of heads · + − zoom · 0 reset zoom.",
].join("\n");
let viewCounter = 0;

function sameFocus(a, b) {
  if (!a || !b) return a === b;
  return a.kind === b.kind && a.index === b.index && a.q === b.q && a.k === b.k;
}

/** The model's selection trait as a view focus. */
function focusFromSelection(sel) {
  if (!sel || !sel.kind) return null;
  return sel.kind === "cell" ? { kind: "cell", q: sel.q, k: sel.k } : { kind: sel.kind, index: sel.index };
}

class AttentionView {
  /** @param {any} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.viewId = `v${Date.now().toString(36)}${(viewCounter++).toString(36)}`;
    /** @type {Focus} */
    this.hover = null;
    /** Zoom window per case; null shows the whole matrix. */
    this.window = null;
    this.drag = null;
    this.paints = 0;
    this.lastPaint = -Infinity;
    this.lastMove = { dl: 0, dh: 0 };
    this.frame = 0;
    this.pendingExports = new Map();
    this.labelCache = new Map();
    this.luts = { viridis: buildLut(COLORMAPS.viridis), projector: buildLut(COLORMAPS.projector) };
    this.lut = this.luts.viridis;
    this.source = new DataSource({
      viewId: this.viewId,
      send: (msg) => this.model.send(msg),
      onReady: () => this.schedule(),
    });
    this.build();
    this.onData();
    this.listen();
  }

  // ------------------------------------------------------------------ DOM
  build() {
    const root = element("div", { class: "aw-root", tabindex: "-1" });
    guardKeys(root);
    root.addEventListener("keydown", (event) => this.onKey(event));
    const controls = element("div", { class: "aw-controls" });
    this.componentRow = element("label", { class: "aw-component" });
    this.componentSelect = /** @type {HTMLSelectElement} */ (element("select", { class: "aw-component-select" }));
    guardKeys(this.componentSelect);
    this.componentSelect.addEventListener("change", () => this.save({ component: this.componentSelect.value }));
    this.componentRow.append(element("span", { class: "aw-control-name" }, "component"), this.componentSelect);
    const int = (v) => String(v);
    this.sliders = {
      layer: slider({ dim: "layer", label: "layer", min: 0, max: 0, step: 1, format: int, onInput: (v) => this.save({ layer: v }) }),
      head: slider({ dim: "head", label: "head", min: 0, max: 0, step: 1, format: int, onInput: (v) => this.save({ head: v, head_mean: false }) }),
      case: slider({ dim: "case", label: "case", min: 0, max: 0, step: 1, format: int, onInput: (v) => this.save({ case: v }) }),
      gamma: slider({ dim: "gamma", label: "contrast γ", min: 0.1, max: 5, step: 0.05, format: (v) => v.toFixed(2), onInput: (v) => this.save({ gamma: v }) }),
    };
    this.meanBox = checkbox({ label: "mean of heads", onChange: (on) => this.save({ head_mean: on }) });
    controls.append(
      this.componentRow,
      this.sliders.layer.row,
      this.sliders.head.row,
      this.meanBox.row,
      this.sliders.case.row,
      this.sliders.gamma.row,
    );

    const toolbar = element("div", { class: "aw-toolbar" });
    this.exportButtons = EXPORT_KINDS.map(([kind, label]) => {
      const button = /** @type {HTMLButtonElement} */ (
        element("button", { type: "button", class: "aw-button aw-export", "data-kind": kind }, label)
      );
      button.addEventListener("click", () => this.requestExport(kind, button));
      toolbar.append(button);
      return button;
    });
    this.overviewButton = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-overview-toggle", "aria-pressed": "false" }, "overview")
    );
    this.overviewButton.addEventListener("click", () => this.toggleOverview());
    this.resetZoomButton = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-reset-zoom", hidden: "" }, "reset zoom")
    );
    this.resetZoomButton.addEventListener("click", () => this.setWindow(null));
    this.regionsButton = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-regions-toggle", "aria-pressed": "false", title: "draw the regions that stand out (attn_widget.regions)" }, "regions")
    );
    this.regionsButton.addEventListener("click", () => {
      const on = this.regionsButton.getAttribute("aria-pressed") !== "true";
      this.regionsButton.setAttribute("aria-pressed", String(on));
      this.schedule();
    });
    this.projectorButton = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-projector-toggle", "aria-pressed": "false", title: "large type, thick lines, high contrast: for a projector" }, "projector")
    );
    this.projectorButton.addEventListener("click", () => this.save({ large: !this.model.get("large") }));
    const help = element("span", { class: "aw-button aw-help", tabindex: "0", title: HELP, "aria-label": HELP }, "?");
    this.status = element("span", { class: "aw-status", role: "status", "aria-live": "polite" });
    toolbar.append(this.overviewButton, this.regionsButton, this.projectorButton, this.resetZoomButton, help, this.status);

    const views = element("div", { class: "aw-views" });
    this.heatCanvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-heatmap", tabindex: "0", role: "img", "aria-label": "attention heatmap" })
    );
    this.heat = new HeatmapPicture(this.heatCanvas);
    this.lines = new LinesPicture();
    this.linesCanvas = this.lines.canvas;
    const linePanel = element("div", { class: "aw-panel" });
    const linebar = element("div", { class: "aw-linebar" });
    this.topInput = /** @type {HTMLInputElement} */ (
      element("input", { type: "number", class: "aw-topk", min: "1", step: "1", "aria-label": "links per token" })
    );
    this.thresholdInput = /** @type {HTMLInputElement} */ (
      element("input", { type: "number", class: "aw-threshold", min: "0", max: "1", step: "0.05", value: "0", "aria-label": "hide links below this fraction of the maximum" })
    );
    for (const input of [this.topInput, this.thresholdInput]) {
      guardKeys(input);
      input.addEventListener("input", () => this.schedule());
    }
    const label = (text, input) => {
      const l = element("label", {});
      l.append(element("span", {}, text), input);
      return l;
    };
    linebar.append(label("links per token ", this.topInput), label("min weight ", this.thresholdInput));
    linePanel.append(linebar, this.lines.scroller);
    this.lines.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    views.append(this.heatCanvas, linePanel);

    this.overviewBox = element("div", { class: "aw-overview", hidden: "" });
    this.overviewCanvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-overview-grid", role: "img", "aria-label": "every layer and head" })
    );
    this.overviewBox.append(this.overviewCanvas);
    this.overview = new OverviewGrid(this.overviewCanvas);

    this.tooltip = element("div", { class: "aw-tooltip", role: "tooltip", hidden: "" });
    root.append(controls, toolbar, views, this.overviewBox, this.tooltip);
    this.root = root;
    this.el.append(root);
  }

  listen() {
    const m = this.model;
    this.handlers = [
      ["change:_meta", () => this.onData()],
      ["change:_cube", () => this.onData()],
      ["change:layer change:head change:head_mean change:gamma change:selection change:large", () => this.schedule()],
      ["change:case", () => { this.window = null; this.schedule(); }],
      ["msg:custom", (msg, buffers) => this.onMessage(msg, buffers)],
    ];
    for (const [event, fn] of this.handlers) m.on(event, fn);
    const at = (canvas, event) => {
      const rect = canvas.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    const heatHit = (event) => this.heat.layout && heatmapHit(this.heat.layout, ...at(this.heatCanvas, event));
    const linesHitAt = (event) => this.lines.layout && linesHit(this.lines.layout, ...at(this.linesCanvas, event));

    const hc = this.heatCanvas;
    hc.addEventListener("mousedown", (event) => {
      const layout = this.heat.layout;
      if (!layout || event.button !== 0) return;
      const hit = heatHit(event);
      if (!hit || hit.kind !== "cell") return;
      const [x, y] = at(hc, event);
      this.drag = { x, y, start: hit, pan: event.shiftKey, moved: false, window: this.currentWindow() };
      // preventDefault stops text selection during a drag, and with it the
      // focus move: focus the heatmap ourselves so Escape and the keys reach the view.
      event.preventDefault();
      hc.focus({ preventScroll: true });
    });
    this.onWindowMove = (event) => {
      if (!this.drag) return;
      const [x, y] = at(hc, event);
      const d = this.drag;
      if (Math.abs(x - d.x) + Math.abs(y - d.y) > 4) d.moved = true;
      if (!d.moved) return;
      const layout = this.heat.layout;
      if (d.pan) {
        const full = this.fullShape();
        this.window = panWindow(d.window, (d.y - y) / layout.cell, (d.x - x) / layout.cell, full.q, full.k);
        this.box = null;
      } else {
        this.box = boxWindow(d.start, cellNear(layout, x, y));
      }
      this.schedule();
    };
    this.onWindowUp = (event) => {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      if (!d.moved) {
        this.onClick(heatHit(event));
        return;
      }
      if (this.box) {
        const box = this.box;
        this.box = null;
        if (box.q1 - box.q0 >= 1 && box.k1 - box.k0 >= 1) this.setWindow(box);
      }
      this.schedule();
    };
    window.addEventListener("mousemove", this.onWindowMove);
    window.addEventListener("mouseup", this.onWindowUp);
    hc.addEventListener("mousemove", (event) => {
      if (!this.drag) this.onHover(heatHit(event), event);
    });
    hc.addEventListener("mouseleave", () => this.onHover(null, null));
    hc.addEventListener("dblclick", () => this.setWindow(null));
    hc.addEventListener("wheel", (event) => {
      const layout = this.heat.layout;
      if (!layout || !heatHit(event)) return;
      event.preventDefault();
      this.zoom(event.deltaY < 0 ? 0.8 : 1.25, matrixPoint(layout, ...at(hc, event)));
      // Paint now: the next wheel step must find the layout of this window.
      this.paintNow();
    }, { passive: false });

    const lc = this.linesCanvas;
    lc.addEventListener("mousemove", (event) => this.onHover(linesHitAt(event), event));
    lc.addEventListener("mouseleave", () => this.onHover(null, null));
    lc.addEventListener("click", (event) => this.onClick(linesHitAt(event)));

    this.overviewCanvas.addEventListener("click", (event) => {
      const layout = this.overview.layout;
      const meta = this.meta;
      if (!layout) return;
      const hit = gridHit(layout, meta.n_layers, meta.n_heads, ...at(this.overviewCanvas, event));
      if (hit) this.save({ layer: hit.layer, head: hit.head, head_mean: false });
    });

    // Follow the notebook's light/dark switch.
    this.themeObserver = new MutationObserver(() => {
      this.heat.imageKey = "";
      this.schedule();
    });
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  }

  dispose() {
    for (const [event, fn] of this.handlers) this.model.off(event, fn);
    window.removeEventListener("mousemove", this.onWindowMove);
    window.removeEventListener("mouseup", this.onWindowUp);
    this.themeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    for (const pending of this.pendingExports.values()) clearTimeout(pending.timer);
  }

  // ---------------------------------------------------------------- state
  save(values) {
    // Remember which way the user is moving: prefetch looks further that way.
    const dl = "layer" in values ? Math.sign(values.layer - this.model.get("layer")) : 0;
    const dh = "head" in values ? Math.sign(values.head - this.model.get("head")) : 0;
    if (dl || dh) this.lastMove = { dl, dh };
    for (const [name, value] of Object.entries(values)) this.model.set(name, value);
    this.model.save_changes();
    // A user's own move paints at once (no wait for the next frame) unless a
    // paint just happened: then the next frame takes it, so drags stay smooth.
    if (performance.now() - this.lastPaint > 12) this.paintNow();
    else this.schedule();
  }

  get meta() {
    return this.model.get("_meta");
  }

  state() {
    const m = this.model;
    return {
      layer: m.get("layer"), head: m.get("head"), mean: m.get("head_mean"), case: m.get("case"),
      gamma: m.get("gamma"), component: m.get("component"),
    };
  }

  /** The selection shown: a locked one wins over the hover. */
  focus() {
    return focusFromSelection(this.model.get("selection")) || this.hover;
  }

  fullShape() {
    const c = this.meta.cases[this.model.get("case")];
    return { q: c.q, k: c.k };
  }

  currentWindow() {
    const full = this.fullShape();
    return this.window || { q0: 0, q1: full.q, k0: 0, k1: full.k };
  }

  setWindow(w) {
    const full = this.fullShape();
    const whole = !w || (w.q0 <= 0 && w.k0 <= 0 && w.q1 >= full.q && w.k1 >= full.k);
    this.window = whole ? null : w;
    // The token lines follow the zoom: bring the window's first query row into view.
    const layout = this.lines.layout;
    if (layout && this.window) this.lines.scroller.scrollTop = layout.top + this.window.q0 * layout.row - layout.top;
    this.schedule();
  }

  zoom(factor, anchor) {
    const w = this.currentWindow();
    const full = this.fullShape();
    const center = anchor || { q: (w.q0 + w.q1) / 2, k: (w.k0 + w.k1) / 2 };
    this.setWindow(zoomWindow(w, center, factor, full.q, full.k, 1));
  }

  onData() {
    const meta = this.meta;
    const cube = this.model.get("_cube");
    const buffer = cube && cube.buffer ? new Uint8Array(cube.buffer, cube.byteOffset, cube.byteLength) : cube;
    this.source.reset(meta, buffer, this.model.get("component"));
    this.hover = null;
    this.window = null;
    this.labelCache.clear();
    this.componentSelect.replaceChildren(
      ...meta.components.map((name) => element("option", { value: name }, name)),
    );
    this.componentRow.hidden = meta.components.length < 2;
    // An analysis view offers its own figure first (compare, stability, evolution).
    const analysisKind = meta.analysis ? meta.analysis.kind : null;
    if (analysisKind && !this.exportButtons.some((b) => b.dataset.kind === analysisKind)) {
      const button = /** @type {HTMLButtonElement} */ (
        element("button", { type: "button", class: "aw-button aw-export", "data-kind": analysisKind }, `PDF: ${analysisKind}`)
      );
      button.addEventListener("click", () => this.requestExport(analysisKind, button));
      this.exportButtons[0].before(button);
      this.exportButtons.unshift(button);
    }
    for (const button of this.exportButtons) {
      button.disabled = !meta.kernel;
      button.title = meta.kernel ? "" : "PDF export needs a running kernel (this is a saved page)";
    }
    this.schedule();
  }

  /** Labels of the current case, truncated, and their widest rendered width (cached). */
  labels(caseIndex, font) {
    const key = `${caseIndex}|${font}`;
    let hit = this.labelCache.get(key);
    if (!hit) {
      const meta = this.meta;
      const queryLabels = meta.query_tokens[caseIndex].map((t) => truncateLabel(t));
      const keyLabels = meta.tokens[caseIndex].map((t) => truncateLabel(t));
      const ctx = /** @type {CanvasRenderingContext2D} */ (this.heatCanvas.getContext("2d"));
      const width = { query: widestLabel(ctx, queryLabels, font), key: widestLabel(ctx, keyLabels, font) };
      hit = { queryLabels, keyLabels, width };
      this.labelCache.set(key, hit);
    }
    return hit;
  }

  // ---------------------------------------------------------------- paint
  /** Repaint once on the next animation frame, however many changes came. */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  paintNow() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.paint();
  }

  paint() {
    const meta = this.meta;
    const st = this.state();
    this.syncControls(meta, st);
    const large = !!this.model.get("large");
    this.root.classList.toggle("aw-large", large);
    this.projectorButton.setAttribute("aria-pressed", String(large));
    // Projector mode: large type, thick lines and a high-contrast colour map.
    const lutName = large ? "projector" : "viridis";
    this.lut = this.luts[lutName];
    const fontSize = large ? 18 : 11;
    const maxSize = large ? 560 : 440;
    const theme = readTheme(this.root);
    const id = { layer: st.layer, head: st.mean ? -1 : st.head, case: st.case };
    const full = this.fullShape();
    const whole = { q0: 0, q1: full.q, k0: 0, k1: full.k };
    const font = fontOf(fontSize, theme.font);
    const labels = this.labels(st.case, font);
    const focus = this.focus();
    // Ask for everything this paint needs at once: the tile, the window and the
    // lines go out together rather than one round trip after another.
    this.lines.place({ nq: full.q, nk: full.k, labelWidth: labels.width, fontSize, maxSize });
    let overviewTile;
    let lineData;
    try {
      overviewTile = this.source.tile({ ...id, ...whole, rows: maxSize, cols: maxSize });
      lineData = this.lineData(id, full, focus);
    } catch (error) {
      this.showStatus(String(error), true);
      return;
    }
    const w = this.currentWindow();
    const zoomed = this.window ? this.source.tile({ ...id, ...w, rows: maxSize, cols: maxSize }) : overviewTile;
    if (!overviewTile) {
      this.showLoading();
      return;
    }
    // Analysis views draw their overlay on the cells; it shares the colour scale.
    const overlay = meta.analysis ? this.source.overlay(id) : null;
    if (meta.analysis && !overlay) {
      this.showLoading();
      return;
    }
    const max = overlay ? overlay.scaleMax : overviewTile.max; // a max pool keeps the slice maximum
    this.resetZoomButton.hidden = !this.window;
    const regions = this.regionsButton.getAttribute("aria-pressed") === "true" ? this.source.regions(id) : null;
    this.heat.draw({
      tile: zoomed || overviewTile, window: w, max, gamma: st.gamma, lut: this.lut, lutName,
      queryLabels: labels.queryLabels, keyLabels: labels.keyLabels, labelWidth: labels.width,
      focus, box: this.box || null, theme, fontSize, maxSize, overlay, regions: regions && regions.rects,
    });

    const groups = lineData && this.lineGroups(lineData, full, max, st.gamma, focus);
    this.lines.draw({
      groups: groups || [], queryLabels: labels.queryLabels, keyLabels: labels.keyLabels,
      focus, theme, fontSize, lineScale: large ? 2 : 1,
    });
    let loadingThumbs = 0;
    if (!this.overviewBox.hidden) loadingThumbs = this.paintOverview(meta, st, theme, fontSize);

    const loading = !zoomed || !groups || loadingThumbs > 0;
    if (loading) this.showLoading();
    else if (this.status.dataset.kind === "loading" || this.status.dataset.kind === "error-data") this.showStatus("");
    this.paints++;
    this.lastPaint = performance.now();
    this.root.dataset.painted = JSON.stringify({
      ...st, n: this.paints, requests: this.source.requestsSent, loading,
      window: this.window, fq: (zoomed || overviewTile).fq,
    });
    if (!loading) this.prefetch(st, meta, maxSize);
  }

  syncControls(meta, st) {
    this.sliders.layer.set(st.layer, 0, meta.n_layers - 1);
    this.sliders.head.set(st.head, 0, meta.n_heads - 1);
    this.sliders.case.set(st.case, 0, meta.n_cases - 1);
    this.sliders.gamma.set(st.gamma);
    this.sliders.head.input.classList.toggle("aw-inactive", st.mean);
    this.meanBox.input.checked = st.mean;
    this.meanBox.input.disabled = meta.n_heads < 2;
    this.componentSelect.value = st.component;
    const full = this.fullShape();
    if (!this.topInput.value) this.topInput.value = String(defaultTopK(full.q, full.k));
    this.topInput.max = String(full.k);
  }

  /** What the lines need: a focused token's every weight, else each visible query's strongest links. */
  lineData(id, full, focus) {
    if (focus && focus.kind !== "cell") return this.source.token({ ...id, kind: focus.kind, index: focus.index });
    const [q0, q1] = this.lines.visibleQueries();
    if (q1 <= q0) return { order: new Int32Array(0), weights: new Float32Array(0), width: 0, q0, q1: q0 };
    const top = this.linksPerToken(full);
    return this.source.links({ ...id, q0, q1, top });
  }

  /** The "links per token" input, clamped to 1..k (its default when empty). */
  linksPerToken(full) {
    return Math.max(1, Math.min(full.k, Math.floor(Number(this.topInput.value) || defaultTopK(full.q, full.k))));
  }

  lineGroups(data, full, max, gamma, focus) {
    if (focus && focus.kind !== "cell") return linesFromToken(data.values, focus.kind, focus.index, max, gamma);
    const minRatio = Math.max(0, Math.min(1, Number(this.thresholdInput.value) || 0));
    return linesFromLinks(data, max, gamma, minRatio);
  }

  paintOverview(meta, st, theme, fontSize) {
    const size = THUMB;
    return this.overview.draw({
      layers: meta.n_layers, heads: meta.n_heads,
      // In the kernel tier one layer is asked at a time; each reply repaints and asks the next.
      thumbsOf: (layer) => this.source.thumbs({ layer, case: st.case, size }),
      current: { layer: st.layer, head: st.head, mean: st.mean },
      gamma: st.gamma, lut: this.lut, theme, fontSize: Math.min(fontSize, 12),
    });
  }

  /**
   * Ask the kernel, while idle, for the slices a user is likely to want next:
   * further along the way the last slider moved first, then every neighbour.
   */
  prefetch(st, meta, maxSize) {
    if (this.source.local) return;
    const wanted = neighbours({ layer: st.layer, head: st.head, mean: st.mean }, this.lastMove, meta.n_layers, meta.n_heads)
      .map((n) => ({ ...n, case: st.case }));
    const full = this.fullShape();
    const [q0, q1] = this.lines.visibleQueries();
    const top = this.linksPerToken(full);
    for (const id of wanted) {
      this.source.tile({ ...id, q0: 0, q1: full.q, k0: 0, k1: full.k, rows: maxSize, cols: maxSize }, true);
      if (q1 > q0) this.source.links({ ...id, q0, q1, top }, true);
    }
  }

  showLoading() {
    if (this.source.lastError) this.showStatus(`error: ${this.source.lastError}`, true, "error-data");
    else this.showStatus("loading…", false, "loading");
  }

  toggleOverview() {
    const show = this.overviewBox.hidden;
    this.overviewBox.hidden = !show;
    this.overviewButton.setAttribute("aria-pressed", String(show));
    this.schedule();
  }

  // ----------------------------------------------------------- interaction
  onKey(event) {
    if (event.key === "Escape") {
      this.setLocked(null);
      return;
    }
    const target = /** @type {HTMLElement} */ (event.target);
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT")) return;
    const meta = this.meta;
    const st = this.state();
    const clamp = (v, n) => Math.max(0, Math.min(n - 1, v));
    const actions = {
      "]": () => this.save({ layer: clamp(st.layer + 1, meta.n_layers) }),
      "[": () => this.save({ layer: clamp(st.layer - 1, meta.n_layers) }),
      ".": () => this.save({ head: clamp(st.head + 1, meta.n_heads), head_mean: false }),
      ",": () => this.save({ head: clamp(st.head - 1, meta.n_heads), head_mean: false }),
      m: () => this.save({ head_mean: !st.mean }),
      "+": () => this.zoom(0.5),
      "=": () => this.zoom(0.5),
      "-": () => this.zoom(2),
      0: () => this.setWindow(null),
    };
    const action = actions[event.key];
    if (action) {
      action();
      event.preventDefault();
    }
  }

  onHover(hit, event) {
    if (!sameFocus(hit, this.hover)) {
      this.hover = hit;
      this.schedule();
    }
    this.showTooltip(hit, event);
  }

  onClick(hit) {
    const locked = focusFromSelection(this.model.get("selection"));
    this.setLocked(!hit || sameFocus(hit, locked) ? null : hit);
  }

  setLocked(focus) {
    const selection = !focus
      ? null
      : focus.kind === "cell"
        ? { kind: "cell", q: focus.q, k: focus.k }
        : { kind: focus.kind, index: focus.index };
    this.save({ selection });
  }

  showTooltip(hit, event) {
    if (!hit || !event) {
      this.tooltip.hidden = true;
      return;
    }
    const meta = this.meta;
    const st = this.state();
    const qTokens = meta.query_tokens[st.case];
    const kTokens = meta.tokens[st.case];
    /** @type {[string, string, string?][]} */
    const rows = [];
    if (hit.kind === "cell") {
      rows.push([`query ${hit.q}: `, visibleToken(qTokens[hit.q])], [`key ${hit.k}: `, visibleToken(kTokens[hit.k])]);
      const shown = this.heat.valueAt(hit.q, hit.k);
      if (shown && shown.pooled) {
        rows.push([
          "max of block: ",
          formatValue(shown.value, 3),
          "value",
        ], ["", `rows ${shown.q0}–${shown.q1 - 1}, cols ${shown.k0}–${shown.k1 - 1} (zoom in for single cells)`]);
      } else if (shown && !meta.analysis) {
        rows.push(["value: ", formatValue(shown.value, this.heat.tile.exact ? 4 : 3), "value"]);
      }
      if (meta.analysis) rows.push(...this.analysisRows(hit, st));
    } else {
      const tokens = hit.kind === "query" ? qTokens : kTokens;
      rows.push([`${hit.kind} ${hit.index}: `, visibleToken(tokens[hit.index])]);
    }
    // Token text goes in with textContent: it is shown, never parsed as HTML.
    this.tooltip.replaceChildren(
      ...rows.map(([name, text, kind]) => {
        const row = element("div", {});
        row.append(element("span", { class: "aw-tip-name" }, name), element("span", { class: kind === "value" ? "aw-tip-value" : "aw-tip-token" }, text));
        return row;
      }),
    );
    const box = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 14}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 14}px`;
    this.tooltip.hidden = false;
  }

  /** Tooltip rows of an analysis view: the numbers behind the cell, as the kernel named them. */
  analysisRows(hit, st) {
    const overlay = this.source.overlay({ layer: st.layer, head: st.mean ? -1 : st.head, case: st.case });
    if (!overlay) return [];
    const at = hit.q * overlay.k + hit.k;
    return this.meta.analysis.tooltip.map(([label, channel, digits]) => {
      const values = overlay.channels[channel];
      const steps = channel === "values" ? overlay.steps : 1;
      const shown = Array.from(values.subarray(at * steps, at * steps + steps), (v) => formatValue(v, digits || 3));
      return [`${label}: `, shown.join(", "), "value"];
    });
  }

  showStatus(text, isError = false, kind = "") {
    this.status.textContent = text;
    this.status.classList.toggle("aw-error", isError);
    this.status.dataset.kind = kind;
    this.status.setAttribute("role", isError ? "alert" : "status");
  }

  // ---------------------------------------------------------------- export
  requestExport(kind, button) {
    const id = `${this.viewId}-export-${kind}-${Date.now()}`;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const label = button.textContent;
    button.textContent = `${label} …`;
    this.showStatus(`rendering ${kind} PDF…`, false, "export");
    const finish = () => {
      button.disabled = !this.meta.kernel;
      button.removeAttribute("aria-busy");
      button.textContent = label;
      this.pendingExports.delete(id);
    };
    const timer = setTimeout(() => {
      finish();
      this.showStatus(`PDF export: no answer from the kernel after ${EXPORT_TIMEOUT_MS / 1000} s — is it running?`, true, "export");
    }, EXPORT_TIMEOUT_MS);
    this.pendingExports.set(id, { finish, timer });
    const msg = { type: "export", id, kind };
    // A zoomed heatmap exports its window, as the view shows it.
    if (kind === "heatmap" && this.window) msg.window = [this.window.q0, this.window.q1, this.window.k0, this.window.k1];
    this.model.send(msg);
  }

  onMessage(msg, buffers) {
    if (this.source.receive(msg, buffers)) return;
    if (!msg || msg.type !== "export") return;
    const pending = this.pendingExports.get(msg.id);
    if (!pending) return; // another display of this widget asked for it
    clearTimeout(pending.timer);
    pending.finish();
    if (!msg.ok) {
      this.showStatus(`PDF export failed: ${msg.error}`, true, "export");
      return;
    }
    const data = buffers[0];
    const bytes = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
    const link = element("a", { href: url, download: msg.filename });
    link.style.display = "none";
    this.root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    this.showStatus(msg.saved ? `downloaded ${msg.filename} (copy saved to ${msg.saved})` : `downloaded ${msg.filename}`, false, "export");
  }
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    const view = new AttentionView(model, el);
    return () => view.dispose();
  },
};
