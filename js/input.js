// The DOM side of pointer and keyboard input: listeners on the pictures and
// the window, turned into what pointer.js says they mean and handed to the
// view. Returns a function that removes every listener.

import { Gesture, keyAction } from "./pointer.js";
import { matrixPoint } from "./geometry.js";
import { stepFocus } from "./frame.js";

/**
 * @typedef {import("./lines.js").Focus} Focus
 * @typedef {{root: HTMLElement, store: import("./store.js").Store,
 *   heat: import("./heatmap.js").HeatmapPicture,
 *   pointables: {canvas: HTMLCanvasElement, hit: (x: number, y: number) => Focus}[],
 *   overview: import("./overview.js").OverviewGrid,
 *   header: () => import("./codec.js").Header | null,
 *   hover: (hit: Focus, at: {x: number, y: number} | null) => void,
 *   set: (patch: Partial<import("./store.js").ViewState>) => void,
 *   click: (hit: Focus) => void, zoom: (factor: number, anchor?: {q: number, k: number}) => void,
 *   setWindow: (w: import("./store.js").Window | null) => void, paintNow: () => void,
 *   reveal: (index: number) => void,
 *   gridTip: (hit: {layer: number, head: number} | null, at: {x: number, y: number} | null) => void}} InputHost
 */

/** (x, y) of a mouse event inside an element. @param {Element} el @param {MouseEvent} event */
function at(el, event) {
  const rect = el.getBoundingClientRect();
  return { x: event.clientX - rect.left, y: event.clientY - rect.top };
}

/**
 * @param {InputHost} host
 * @returns {() => void} dispose
 */
export function listenInput(host) {
  const { root, store, heat, overview } = host;
  const hc = heat.canvas;
  const heatHit = (/** @type {MouseEvent} */ event) => {
    const p = at(hc, event);
    return heat.hit(p.x, p.y);
  };
  const inRoot = (/** @type {MouseEvent} */ event) => at(root, event);
  /** @type {Gesture | null} */
  let gesture = null;

  hc.addEventListener("mousedown", (event) => {
    const hit = heatHit(event);
    if (!heat.layout || event.button !== 0 || !hit || hit.kind !== "cell") return;
    const p = at(hc, event);
    const s = store.state;
    const header = host.header();
    const full = header ? header.cases[s.case] : { q: 0, k: 0 };
    const window = s.window || { q0: 0, q1: full.q, k0: 0, k1: full.k };
    gesture = new Gesture({ x: p.x, y: p.y, start: hit, pan: event.shiftKey, window });
    // preventDefault stops text selection during a drag, and with it the
    // focus move: focus the heatmap ourselves so Escape and the keys reach the view.
    event.preventDefault();
    hc.focus({ preventScroll: true });
  });
  const onMove = (/** @type {MouseEvent} */ event) => {
    const header = host.header();
    if (!gesture || !heat.layout || !header) return;
    const p = at(hc, event);
    const shown = gesture.move(p.x, p.y, heat.layout, header.cases[store.state.case]);
    if (!shown) return;
    if ("window" in shown) store.apply({ window: shown.window, box: null });
    else store.apply({ box: shown.box });
  };
  const onUp = (/** @type {MouseEvent} */ event) => {
    if (!gesture) return;
    const done = gesture.end();
    gesture = null;
    if (done.kind === "click") host.click(heatHit(event));
    else {
      store.apply({ box: null });
      if (done.kind === "zoom") host.setWindow(done.window);
    }
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  hc.addEventListener("mousemove", (event) => {
    if (!gesture) host.hover(heatHit(event), inRoot(event));
  });
  hc.addEventListener("mouseleave", () => host.hover(null, null));
  hc.addEventListener("dblclick", () => host.setWindow(null));
  hc.addEventListener("wheel", (event) => {
    if (!heat.layout || !heatHit(event)) return;
    event.preventDefault();
    const p = at(hc, event);
    host.zoom(event.deltaY < 0 ? 0.8 : 1.25, matrixPoint(heat.layout, p.x, p.y));
    // Paint now: the next wheel step must find the layout of this window.
    host.paintNow();
  }, { passive: false });

  // Token lines, the image, the audio strip: hover shows, a click locks.
  for (const picture of host.pointables) {
    const c = picture.canvas;
    const hitOf = (/** @type {MouseEvent} */ event) => {
      const p = at(c, event);
      return picture.hit(p.x, p.y);
    };
    c.addEventListener("mousemove", (event) => host.hover(hitOf(event), inRoot(event)));
    c.addEventListener("mouseleave", () => host.hover(null, null));
    c.addEventListener("click", (event) => host.click(hitOf(event)));
  }

  overview.canvas.addEventListener("mousemove", (event) => {
    const header = host.header();
    const p = at(overview.canvas, event);
    host.gridTip(header && overview.hit(p.x, p.y, header), inRoot(event));
  });
  overview.canvas.addEventListener("mouseleave", () => host.gridTip(null, null));
  overview.canvas.addEventListener("click", (event) => {
    const header = host.header();
    const p = at(overview.canvas, event);
    const hit = header && overview.hit(p.x, p.y, header);
    if (hit) host.set({ layer: hit.layer, head: hit.head, mean: false });
  });

  // Keys on the view. Listened for on the window, before anything else sees them
  // (JupyterLab matches its shortcuts, j, k, m and the arrows among them, on the way
  // down to the focused element): a key the view acts on goes no further; any other
  // key is left to the notebook.
  const onKey = (/** @type {KeyboardEvent} */ event) => {
    const path = event.composedPath();
    if (!path.includes(root)) return;
    if (event.key === "Escape") {
      // Escape closes the key list first, then unlocks (and reaches the notebook too).
      if (store.state.keys) {
        store.apply({ keys: false });
        event.stopPropagation();
      } else host.set({ selection: null });
      return;
    }
    const target = /** @type {HTMLElement} */ (path[0]);
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const header = host.header();
    if (!header) return;
    const s = store.state;
    const steps = header.generation ? header.generation.steps.length : 0;
    const c = header.cases[s.case];
    const step = stepFocus(header, s.step);
    const tokens = c ? { q: c.q, k: c.k, row: step && step.kind === "query" ? step.index : undefined } : undefined;
    const action = keyAction(event.key, s, { ...header, steps, tokens });
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    if (action.keys) store.apply({ keys: !s.keys });
    else if (action.patch) {
      const sel = /** @type {{selection?: import("./store.js").Selection}} */ (action.patch).selection;
      if (sel) host.reveal(sel.kind === "cell" ? sel.q : sel.index);
      host.set(action.patch);
    } else if (action.zoom) host.zoom(action.zoom);
    else host.setWindow(null);
  };
  window.addEventListener("keydown", onKey, true);

  return () => {
    window.removeEventListener("keydown", onKey, true);
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
  };
}
