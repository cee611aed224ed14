// The view: a store, the data source, the pictures subscribed to both, and
// the controls. A change of state schedules one paint on the next animation
// frame; a paint builds one frame, lets every picture ask for its data (all
// requests go out together), then lets each draw.

import { Store } from "./store.js";
import { DataSource } from "./source.js";
import { HeatmapPicture } from "./heatmap.js";
import { LinesPicture } from "./linesview.js";
import { OverviewGrid } from "./overview.js";
import { ImagePicture } from "./imageview.js";
import { AudioPicture } from "./audioview.js";
import { TextPicture, SPEEDS } from "./textview.js";
import { buildLayout, syncControls, showComponents, showStatus } from "./layout.js";
import { buildFrame, shareScale, LabelCache, sinkKeys } from "./frame.js";
import { listenInput } from "./input.js";
import { Exports } from "./download.js";
import { tooltipRows, showTooltip } from "./tooltip.js";
import { neighbours } from "./neighbours.js";
import { clickSelection, sameFocus } from "./pointer.js";
import { zoomWindow } from "./geometry.js";
import { formatValue } from "./colormap.js";
import { ProjectorFit } from "./projector.js";

/**
 * @typedef {import("./store.js").ViewState} ViewState
 * @typedef {import("./store.js").Window} Window
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {import("./frame.js").Frame} Frame
 * @typedef {import("./frame.js").Picture} Picture
 */

let viewCounter = 0;

export class AttentionView {
  /** @param {import("./store.js").Model} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.viewId = `v${Date.now().toString(36)}${(viewCounter++).toString(36)}`;
    this.paints = 0;
    this.lastPaint = -Infinity;
    this.frame = 0;
    this.labels = new LabelCache();
    this.store = new Store(model);
    this.source = new DataSource({ viewId: this.viewId, send: (msg) => model.send(msg), onReady: () => this.schedule() });
    const set = (/** @type {Partial<ViewState>} */ patch) => this.set(patch);
    this.ui = buildLayout({
      component: (name) => set({ component: name }),
      layer: (v) => set({ layer: v }),
      head: (v) => set({ head: v, mean: false }),
      case: (v) => set({ case: v }),
      gamma: (v) => set({ gamma: v }),
      mean: (on) => set({ mean: on }),
      overview: () => this.store.apply({ overview: !this.store.state.overview }),
      resetZoom: () => this.setWindow(null),
      regions: () => this.store.apply({ regions: !this.store.state.regions }),
      projector: () => set({ large: !this.store.state.large }),
      sinks: () => this.store.apply({ sinks: !this.store.state.sinks }),
      keys: () => this.store.apply({ keys: !this.store.state.keys }),
    });
    this.heat = new HeatmapPicture();
    this.lines = new LinesPicture(() => this.schedule());
    this.overview = new OverviewGrid(set);
    this.image = new ImagePicture();
    this.audio = new AudioPicture();
    this.text = new TextPicture({ set, stop: () => model.send({ type: "stop" }) });
    this.playTimer = 0;
    /** @type {Picture[]} drawn in this order; a new picture is one more entry */
    this.pictures = [this.heat, this.lines, this.image, this.audio, this.text, this.overview];
    this.ui.views.append(this.heat.canvas, this.lines.panel, this.image.panel, this.audio.panel, this.text.panel);
    this.ui.overviewBox.append(this.overview.panel);
    const text = this.text;
    this.projector = new ProjectorFit({
      root: this.ui.root, views: this.ui.views, heat: this.heat.canvas,
      lines: this.lines,
      text: { panel: text.panel, bar: text.bar, side: text.side, heightFor: (f, w) => text.heightFor(f, w) },
      image: this.image, audio: this.audio,
    }, () => this.schedule());
    this.exports = new Exports(this.ui.toolbar, this.viewId, {
      send: (msg) => model.send(msg),
      status: (text, isError, kind) => showStatus(this.ui, text, isError, kind),
      window: () => this.store.state.window,
      kernel: () => !!this.header && this.header.kernel,
    });
    this.stopInput = listenInput({
      root: this.ui.root, store: this.store, heat: this.heat, overview: this.overview,
      pointables: [this.lines, this.image, this.audio, this.text],
      header: () => this.header, set, hover: (hit, at) => this.hover(hit, at),
      click: (hit) => set({ selection: clickSelection(hit, this.store.state.selection) }),
      zoom: (factor, anchor) => this.zoom(factor, anchor), setWindow: (w) => this.setWindow(w),
      paintNow: () => this.paintNow(),
      reveal: (index) => this.lines.reveal(index),
      gridTip: (hit, at) => this.gridTip(hit, at),
    });
    this.unsubscribe = this.store.subscribe((changed) => {
      if (changed.has("data")) this.onData();
      if (changed.has("playing")) this.play();
      this.schedule();
    });
    this.onMessage = (/** @type {any} */ msg, /** @type {any[]} */ buffers) => {
      // The kernel refused a state change (it sends the current values back).
      if (msg && msg.type === "error") showStatus(this.ui, `error: ${msg.error}`, true, "error-state");
      else if (!this.source.receive(msg, buffers)) this.exports.receive(msg, buffers);
    };
    model.on("msg:custom", this.onMessage);
    // Follow the notebook's light/dark switch.
    this.themeObserver = new MutationObserver(() => {
      this.heat.imageKey = "";
      this.schedule();
    });
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
    el.append(this.ui.root);
    this.onData();
    this.schedule();
  }

  /** The header of the data shown, or null before any came. */
  get header() {
    const data = this.store.state.data;
    return data ? data.header : null;
  }

  /**
   * A user's own change: it paints at once (no wait for the next frame) unless
   * a paint just happened; then the next frame takes it, so drags stay smooth.
   * @param {Partial<ViewState>} patch
   */
  set(patch) {
    // "Heads like this one" ranks every head by likeness to the head shown now.
    if (/** @type {any} */ (patch).likeHead === "current") {
      const s = this.store.state;
      patch = { ...patch, likeHead: { layer: s.layer, head: s.head } };
    }
    this.store.set(patch);
    if (performance.now() - this.lastPaint > 12) this.paintNow();
    else this.schedule();
  }

  onData() {
    const data = this.store.state.data;
    if (!data) return;
    this.source.reset(data.header, data.cube);
    this.labels.clear();
    showComponents(this.ui, data.header);
    this.exports.update(data.header);
  }

  /** Walk the generation's steps while playing, at the chosen speed; stop at the last. */
  play() {
    clearInterval(this.playTimer);
    this.playTimer = 0;
    if (!this.store.state.playing) return;
    const speed = Number(this.text.speed.value) || SPEEDS[0];
    this.playTimer = setInterval(() => {
      const header = this.header;
      const total = header && header.generation ? header.generation.steps.length : 0;
      const s = this.store.state;
      if (s.step >= total) {
        if (!s.generating) this.store.apply({ playing: false });
        return;
      }
      this.set({ step: s.step + 1 });
    }, 1000 / speed);
  }

  /** @param {Window | null} w */
  setWindow(w) {
    const header = this.header;
    if (!header) return;
    const full = header.cases[this.store.state.case];
    const whole = !w || (w.q0 <= 0 && w.k0 <= 0 && w.q1 >= full.q && w.k1 >= full.k);
    this.store.apply({ window: whole ? null : w });
    // The token lines follow the zoom: bring the window's first query row into view.
    if (!whole && w) this.lines.showRow(w.q0);
  }

  /** @param {number} factor @param {{q: number, k: number}} [anchor] */
  zoom(factor, anchor) {
    const header = this.header;
    if (!header) return;
    const full = header.cases[this.store.state.case];
    const w = this.store.state.window || { q0: 0, q1: full.q, k0: 0, k1: full.k };
    const center = anchor || { q: (w.q0 + w.q1) / 2, k: (w.k0 + w.k1) / 2 };
    this.setWindow(zoomWindow(w, center, factor, full.q, full.k, 1));
  }

  /** @param {Focus} hit @param {{x: number, y: number} | null} at */
  hover(hit, at) {
    if (!sameFocus(hit, this.store.state.hover)) this.store.apply({ hover: hit });
    const header = this.header;
    if (!hit || !header) {
      showTooltip(this.ui.tooltip, null, null);
      return;
    }
    const s = this.store.state;
    const shown = hit.kind === "cell" ? this.heat.valueAt(hit.q, hit.k) : null;
    const id = { layer: s.layer, head: s.mean ? null : s.head, case: s.case };
    const rows = tooltipRows(hit, {
      queryTokens: header.query_tokens[s.case], keyTokens: header.tokens[s.case], shown,
      exact: !!(this.heat.tile && this.heat.tile.exact), analysis: header.analysis,
      overlay: header.analysis ? this.source.overlay(id) : null,
    });
    showTooltip(this.ui.tooltip, rows, at);
  }

  /** The tooltip over the atlas: the head, and every score it has. */
  gridTip(/** @type {{layer: number, head: number} | null} */ hit, /** @type {{x: number, y: number} | null} */ at) {
    if (!hit) {
      showTooltip(this.ui.tooltip, null, null);
      return;
    }
    /** @type {[string, string, string?][]} */
    const rows = [[`layer ${hit.layer} · head ${hit.head}`, ""]];
    for (const [name, value] of this.overview.scoresOf(hit.layer, hit.head)) {
      rows.push([`${name.replace(/_/g, " ")}: `, value === null ? "–" : formatValue(value, 3), "value"]);
    }
    showTooltip(this.ui.tooltip, rows, at);
  }

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
    const header = this.header;
    if (!header) return;
    const s = this.store.state;
    syncControls(this.ui, header, s);
    const c = header.cases[s.case];
    if (!c || c.q === 0 || c.k === 0) {
      // A generation before its first token: nothing to draw yet.
      const f = buildFrame(s, header, this.source, { root: this.ui.root, labels: this.labels, canvas: this.heat.canvas });
      this.text.request(f);
      this.text.paint(f);
      showStatus(this.ui, "waiting for the first token…", false, "loading");
      return;
    }
    const f = buildFrame(s, header, this.source, { root: this.ui.root, labels: this.labels, canvas: this.heat.canvas });
    f.fit = this.projector.plan(f);
    let ready;
    try {
      this.source.beginFrame();
      for (const p of this.pictures) p.place?.(f);
      ready = shareScale(f);
      for (const p of this.pictures) p.request(f);
      this.source.endFrame();
    } catch (error) {
      showStatus(this.ui, String(error), true);
      return;
    }
    if (!ready) {
      this.showLoading();
      return;
    }
    let loading = false;
    for (const p of this.pictures) loading = !p.paint(f) || loading;
    if (loading) this.showLoading();
    else if (this.ui.status.dataset.kind === "loading" || this.ui.status.dataset.kind === "error-data") showStatus(this.ui, "");
    this.paints++;
    this.lastPaint = performance.now();
    const shownTile = this.heat.tile || f.overviewTile;
    this.ui.root.dataset.painted = JSON.stringify({
      layer: s.layer, head: s.head, mean: s.mean, case: s.case, gamma: s.gamma, component: s.component,
      selection: s.selection, step: s.step, large: s.large, keys: s.keys,
      n: this.paints, requests: this.source.requestsSent, loading, window: s.window,
      fq: shownTile ? shownTile.fq : 1, refining: !!(shownTile && shownTile.refining),
    });
    this.ui.root.dataset.stage = shownTile && shownTile.refining ? "estimate" : "exact";
    if (!loading) this.prefetch(f);
    // Projector mode: what was measured around the pictures may have changed with this paint.
    if (this.projector.settle()) this.schedule();
  }

  /**
   * Ask the kernel, while idle, for the slices a user is likely to want next:
   * further along the way the last slider moved first, then every neighbour.
   * @param {Frame} f
   */
  prefetch(f) {
    if (this.source.local) return;
    const s = f.state;
    const wanted = neighbours({ layer: s.layer, head: s.head, mean: s.mean }, s.move, f.header.n_layers, f.header.n_heads);
    const links = this.lines.linksWanted(f);
    // A generation's step walks its rows one at a time (the slider, the keys,
    // play): the next steps' rows first, then the one before, are asked ahead.
    const gen = f.header.generation;
    if (gen && !s.selection && !s.hover && s.step >= 1) {
      const sink = sinkKeys(f.header)[0];
      for (const d of [1, 2, -1, 3]) {
        const t = s.step + d;
        if (t < 1 || t > gen.rows.length) continue;
        const row = gen.rows[t - 1];
        this.source.token({ ...f.id, kind: "query", index: row }, true);
        if (sink !== undefined) this.source.cellheads({ layer: s.layer, case: s.case, q: row, k: sink }, true);
      }
    }
    // The image picture's row (the [CLS] or locked token) moves with every slider too.
    const shown = this.image.panel.hidden ? null : this.image.shown;
    for (const n of wanted) {
      const id = { ...n, case: s.case };
      this.source.tile({ ...id, ...f.whole, rows: f.maxSize, cols: f.maxSize }, true);
      if (links) this.source.links({ ...id, ...links }, true);
      if (shown && shown.kind !== "mean") this.source.token({ ...id, kind: shown.kind, index: shown.index }, true);
    }
  }

  showLoading() {
    if (this.source.lastError) showStatus(this.ui, `error: ${this.source.lastError}`, true, "error-data");
    else showStatus(this.ui, "loading…", false, "loading");
  }

  dispose() {
    this.model.off("msg:custom", this.onMessage);
    this.unsubscribe();
    this.store.dispose();
    this.stopInput();
    this.themeObserver.disconnect();
    this.projector.dispose();
    cancelAnimationFrame(this.frame);
    clearInterval(this.playTimer);
    this.exports.dispose();
  }
}
