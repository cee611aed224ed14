// The export buttons: ask the kernel for a figure, wait (busy button, a
// timeout), and hand the bytes to the browser as a download. The figure is
// drawn in Python (attn_widget/export), so this works where the kernel's disk
// is out of reach (Colab).

import { element } from "./controls.js";

export const EXPORT_KINDS = ["heatmap", "lines", "grid"];
/** The file formats the kernel draws (attn_widget.export.formats). */
export const FORMATS = ["pdf", "png", "svg"];
const label = (/** @type {string} */ format, /** @type {string} */ kind) => `${format.toUpperCase()}: ${kind}`;
export const EXPORT_TIMEOUT_MS = 120_000;

/**
 * @typedef {{send: (msg: object) => void, status: (text: string, isError?: boolean, kind?: string) => void,
 *   window: () => import("./store.js").Window | null, kernel: () => boolean}} ExportIo
 */

export class Exports {
  /**
   * @param {HTMLElement} toolbar the buttons go first in it
   * @param {string} viewId
   * @param {ExportIo} io
   */
  constructor(toolbar, viewId, io) {
    this.toolbar = toolbar;
    this.viewId = viewId;
    this.io = io;
    /** @type {Map<string, {finish: () => void, timer: ReturnType<typeof setTimeout>}>} */
    this.pending = new Map();
    /** @type {HTMLButtonElement[]} */
    this.buttons = [];
    this.format = "pdf";
    const first = toolbar.firstChild;
    // One choice of format for every button: a PDF for the paper, a PNG for slides.
    this.formatSelect = /** @type {HTMLSelectElement} */ (
      element("select", { class: "aw-export-format", "aria-label": "file format of the exports" })
    );
    for (const format of FORMATS) this.formatSelect.append(element("option", { value: format }, format.toUpperCase()));
    this.formatSelect.addEventListener("change", () => {
      this.format = this.formatSelect.value;
      for (const button of this.buttons) button.textContent = label(this.format, button.dataset.kind || "");
    });
    this.formatSelect.addEventListener("keydown", (event) => event.stopPropagation());
    toolbar.insertBefore(this.formatSelect, first);
    for (const kind of EXPORT_KINDS) {
      const button = this.button(kind);
      this.buttons.push(button);
      toolbar.insertBefore(button, first);
    }
  }

  /** @param {string} kind */
  button(kind) {
    const button = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-export", "data-kind": kind }, label(this.format, kind))
    );
    button.addEventListener("click", () => this.request(kind, button));
    return button;
  }

  /**
   * New data: an analysis view offers its own figure first; buttons need a kernel.
   * @param {import("./codec.js").Header} header
   */
  update(header) {
    const analysisKind = header.analysis ? header.analysis.kind : null;
    if (analysisKind && !this.buttons.some((b) => b.dataset.kind === analysisKind)) {
      const button = this.button(analysisKind);
      this.buttons.unshift(button);
      this.toolbar.insertBefore(button, this.toolbar.firstChild);
    }
    // An image model's own figures: the overlay, and every head's.
    if (header.media && header.media.kind === "image" && !this.buttons.some((b) => b.dataset.kind === "image")) {
      for (const kind of ["image_grid", "image"]) {
        const button = this.button(kind);
        this.buttons.unshift(button);
        this.toolbar.insertBefore(button, this.formatSelect.nextSibling);
      }
    }
    for (const button of this.buttons) {
      button.disabled = !header.kernel;
      button.title = header.kernel ? "" : "export needs a running kernel (this is a saved page)";
    }
    this.formatSelect.disabled = !header.kernel;
  }

  /** @param {string} kind @param {HTMLButtonElement} button */
  request(kind, button) {
    const format = this.format;
    const id = `${this.viewId}-export-${kind}-${format}-${Date.now()}`;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const label = button.textContent;
    button.textContent = `${label} …`;
    this.io.status(`rendering ${kind} ${format.toUpperCase()}…`, false, "export");
    const finish = () => {
      button.disabled = !this.io.kernel();
      button.removeAttribute("aria-busy");
      button.textContent = label;
      this.pending.delete(id);
    };
    const timer = setTimeout(() => {
      finish();
      this.io.status(`${format.toUpperCase()} export: no answer from the kernel after ${EXPORT_TIMEOUT_MS / 1000} s — is it running?`, true, "export");
    }, EXPORT_TIMEOUT_MS);
    this.pending.set(id, { finish, timer });
    /** @type {{type: string, id: string, kind: string, format: string, window?: number[]}} */
    const msg = { type: "export", id, kind, format };
    // A zoomed heatmap exports its window, as the view shows it.
    const w = this.io.window();
    if (kind === "heatmap" && w) msg.window = [w.q0, w.q1, w.k0, w.k1];
    this.io.send(msg);
  }

  /**
   * A kernel reply to an export (every display of the widget gets it; only the asker acts).
   * @param {any} msg
   * @param {import("./codec.js").Binary[]} buffers
   * @returns {boolean} whether it was an export reply
   */
  receive(msg, buffers) {
    if (!msg || msg.type !== "export") return false;
    const pending = this.pending.get(msg.id);
    if (!pending) return true;
    clearTimeout(pending.timer);
    pending.finish();
    if (!msg.ok) {
      this.io.status(`${String(msg.format || "pdf").toUpperCase()} export failed: ${msg.error}`, true, "export");
      return true;
    }
    const data = buffers[0];
    const bytes = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
    const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)], { type: msg.mime || "application/pdf" }));
    const link = element("a", { href: url, download: msg.filename });
    link.style.display = "none";
    this.toolbar.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    this.io.status(msg.saved ? `downloaded ${msg.filename} (copy saved to ${msg.saved})` : `downloaded ${msg.filename}`, false, "export");
    return true;
  }

  dispose() {
    for (const pending of this.pending.values()) clearTimeout(pending.timer);
  }
}
