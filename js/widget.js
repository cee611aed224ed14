// attn_widget's view: linked heatmap and token-line pictures with sliders for
// layer, head, case and contrast, and PDF export buttons. An anywidget module.

import { buildLut, COLORMAPS, formatValue } from "./colormap.js";
import { heatmapHit, linesHit, truncateLabel } from "./geometry.js";
import { HeatmapPicture } from "./heatmap.js";
import { LinesPicture } from "./linesview.js";
import { SliceSource } from "./slices.js";
import { readTheme } from "./theme.js";
import { element, slider, checkbox, guardKeys } from "./controls.js";

/** @typedef {import("./lines.js").Focus} Focus */

const EXPORT_KINDS = [
  ["heatmap", "PDF: heatmap"],
  ["lines", "PDF: lines"],
  ["grid", "PDF: grid"],
];
const EXPORT_TIMEOUT_MS = 120_000;
let viewCounter = 0;

function sameFocus(a, b) {
  if (!a || !b) return a === b;
  return a.kind === b.kind && a.index === b.index && a.q === b.q && a.k === b.k;
}

/** The model's selection trait as a view focus, and back. */
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
    this.paints = 0;
    this.frame = 0;
    this.pendingExports = new Map();
    this.lut = buildLut(COLORMAPS.viridis);
    this.source = new SliceSource({
      viewId: this.viewId,
      send: (msg) => this.model.send(msg),
      onReady: () => this.schedule(),
    });
    this.build();
    this.onData();
    this.listen();
  }

  build() {
    const root = element("div", { class: "aw-root", tabindex: "-1" });
    guardKeys(root);
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.setLocked(null);
    });
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
    this.status = element("span", { class: "aw-status", role: "status", "aria-live": "polite" });
    toolbar.append(this.status);
    const views = element("div", { class: "aw-views" });
    this.heatCanvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-heatmap", tabindex: "0", role: "img", "aria-label": "attention heatmap" })
    );
    this.linesCanvas = /** @type {HTMLCanvasElement} */ (
      element("canvas", { class: "aw-lines", tabindex: "0", role: "img", "aria-label": "attention token lines" })
    );
    views.append(this.heatCanvas, this.linesCanvas);
    this.tooltip = element("div", { class: "aw-tooltip", role: "tooltip", hidden: "" });
    root.append(controls, toolbar, views, this.tooltip);
    this.heat = new HeatmapPicture(this.heatCanvas);
    this.lines = new LinesPicture(this.linesCanvas);
    this.root = root;
    this.el.append(root);
  }

  listen() {
    const m = this.model;
    this.handlers = [
      ["change:_meta", () => this.onData()],
      ["change:_cube", () => this.onData()],
      ["change:layer change:head change:head_mean change:case change:gamma change:selection", () => this.schedule()],
      ["msg:custom", (msg, buffers) => this.onMessage(msg, buffers)],
    ];
    for (const [event, fn] of this.handlers) m.on(event, fn);
    const pointer = (picture, hitTest) => (event) => {
      const rect = event.currentTarget.getBoundingClientRect();
      const layout = picture.layout;
      if (!layout) return null;
      return hitTest(layout, event.clientX - rect.left, event.clientY - rect.top);
    };
    this.heatHit = pointer(this.heat, heatmapHit);
    this.linesHit = pointer(this.lines, linesHit);
    for (const [canvas, hit] of [[this.heatCanvas, this.heatHit], [this.linesCanvas, this.linesHit]]) {
      canvas.addEventListener("mousemove", (event) => this.onHover(hit(event), event));
      canvas.addEventListener("mouseleave", () => this.onHover(null, null));
      canvas.addEventListener("click", (event) => this.onClick(hit(event)));
    }
    // Follow the notebook's light/dark switch.
    this.themeObserver = new MutationObserver(() => {
      this.heat.imageKey = "";
      this.schedule();
    });
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  }

  dispose() {
    for (const [event, fn] of this.handlers) this.model.off(event, fn);
    this.themeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    for (const pending of this.pendingExports.values()) clearTimeout(pending.timer);
  }

  save(values) {
    for (const [name, value] of Object.entries(values)) this.model.set(name, value);
    this.model.save_changes();
    this.schedule();
  }

  get meta() {
    return this.model.get("_meta");
  }

  onData() {
    const meta = this.meta;
    const cube = this.model.get("_cube");
    const buffer = cube && cube.buffer ? new Uint8Array(cube.buffer, cube.byteOffset, cube.byteLength) : cube;
    this.source.reset(meta, buffer, this.model.get("component"));
    this.hover = null;
    this.componentSelect.replaceChildren(
      ...meta.components.map((name) => element("option", { value: name }, name)),
    );
    this.componentRow.hidden = meta.components.length < 2;
    for (const button of this.exportButtons) {
      button.disabled = !meta.kernel;
      button.title = meta.kernel ? "" : "PDF export needs a running kernel";
    }
    this.schedule();
  }

  /** Repaint once on the next animation frame, however many changes came. */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
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

  paint() {
    const meta = this.meta;
    const st = this.state();
    this.sliders.layer.set(st.layer, 0, meta.n_layers - 1);
    this.sliders.head.set(st.head, 0, meta.n_heads - 1);
    this.sliders.case.set(st.case, 0, meta.n_cases - 1);
    this.sliders.gamma.set(st.gamma);
    this.sliders.head.input.classList.toggle("aw-inactive", st.mean);
    this.meanBox.input.checked = st.mean;
    this.meanBox.input.disabled = meta.n_heads < 2;
    this.componentSelect.value = st.component;
    const want = { layer: st.layer, head: st.mean ? -1 : st.head, case: st.case };
    let slice;
    try {
      slice = this.source.get(want);
    } catch (error) {
      this.showStatus(String(error), true);
      return;
    }
    if (!slice) {
      this.showStatus(this.source.lastError ? `error: ${this.source.lastError}` : "loading slice…", !!this.source.lastError);
      return;
    }
    if (this.status.dataset.kind === "loading") this.showStatus("");
    const large = this.root.classList.contains("aw-large");
    const fontSize = large ? 18 : 11;
    const common = {
      slice,
      sliceKey: `${st.component}/${want.layer}/${want.head}/${want.case}`,
      gamma: st.gamma,
      lut: this.lut,
      lutName: "viridis",
      queryLabels: meta.query_tokens[st.case].map((t) => truncateLabel(t)),
      keyLabels: meta.tokens[st.case].map((t) => truncateLabel(t)),
      focus: this.focus(),
      theme: readTheme(this.root),
      fontSize,
      maxSize: large ? 560 : 440,
      lineScale: large ? 2 : 1,
    };
    this.heat.draw(common);
    this.lines.draw(common);
    this.paints++;
    this.root.dataset.painted = JSON.stringify({ ...st, n: this.paints, requests: this.source.requestsSent });
    this.prefetch(st, meta);
  }

  prefetch(st, meta) {
    if (meta.tier !== "slices") return;
    const head = st.mean ? -1 : st.head;
    const around = [];
    for (const dl of [1, -1]) {
      const layer = st.layer + dl;
      if (layer >= 0 && layer < meta.n_layers) around.push({ layer, head, case: st.case });
    }
    if (!st.mean) {
      for (const dh of [1, -1]) {
        const h = st.head + dh;
        if (h >= 0 && h < meta.n_heads) around.push({ layer: st.layer, head: h, case: st.case });
      }
    }
    this.source.prefetch(around);
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
    const slice = this.source.cache.get(this.source.keyOf({ layer: st.layer, head: st.mean ? -1 : st.head, case: st.case }));
    if (!slice) return;
    const qTokens = meta.query_tokens[st.case];
    const kTokens = meta.tokens[st.case];
    const lines = [];
    if (hit.kind === "cell") {
      const value = slice.values[hit.q * slice.k + hit.k];
      lines.push([`query ${hit.q}: `, qTokens[hit.q]], [`key ${hit.k}: `, kTokens[hit.k]], ["value: ", formatValue(value, slice.exact ? 4 : 3), true]);
    } else {
      const tokens = hit.kind === "query" ? qTokens : kTokens;
      lines.push([`${hit.kind} ${hit.index}: `, tokens[hit.index]]);
    }
    // Token text goes in with textContent: it is shown, never parsed as HTML.
    this.tooltip.replaceChildren(
      ...lines.map(([name, text, strong]) => {
        const row = element("div", {});
        row.append(element("span", { class: "aw-tip-name" }, name), element("span", { class: strong ? "aw-tip-value" : "aw-tip-token" }, text));
        return row;
      }),
    );
    const box = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 14}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 14}px`;
    this.tooltip.hidden = false;
  }

  showStatus(text, isError = false, kind = "") {
    this.status.textContent = text;
    this.status.classList.toggle("aw-error", isError);
    this.status.dataset.kind = text === "loading slice…" ? "loading" : kind;
    this.status.setAttribute("role", isError ? "alert" : "status");
  }

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
    this.model.send({ type: "export", id, kind });
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
    const blob = new Blob([data instanceof DataView ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data], { type: "application/pdf" });
    const url = URL.createObjectURL(blob);
    const link = element("a", { href: url, download: msg.filename });
    link.style.display = "none";
    this.root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    this.showStatus(msg.saved ? `saved ${msg.filename} (copy in ${msg.saved})` : `downloaded ${msg.filename}`, false, "export");
  }
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    const view = new AttentionView(model, el);
    return () => view.dispose();
  },
};
