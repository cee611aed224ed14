// The export buttons: ask the kernel for a figure, wait (busy button, a
// timeout), and hand the bytes to the browser as a download. The figure is
// drawn in Python (attn_widget/export), so this works where the kernel's disk
// is out of reach (Colab).

import { element } from "./controls.js";

export const EXPORT_KINDS = [
  ["heatmap", "PDF: heatmap"],
  ["lines", "PDF: lines"],
  ["grid", "PDF: grid"],
];
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
    const first = toolbar.firstChild;
    for (const [kind, label] of EXPORT_KINDS) {
      const button = this.button(kind, label);
      this.buttons.push(button);
      toolbar.insertBefore(button, first);
    }
  }

  /** @param {string} kind @param {string} label */
  button(kind, label) {
    const button = /** @type {HTMLButtonElement} */ (
      element("button", { type: "button", class: "aw-button aw-export", "data-kind": kind }, label)
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
      const button = this.button(analysisKind, `PDF: ${analysisKind}`);
      this.buttons.unshift(button);
      this.toolbar.insertBefore(button, this.toolbar.firstChild);
    }
    for (const button of this.buttons) {
      button.disabled = !header.kernel;
      button.title = header.kernel ? "" : "PDF export needs a running kernel (this is a saved page)";
    }
  }

  /** @param {string} kind @param {HTMLButtonElement} button */
  request(kind, button) {
    const id = `${this.viewId}-export-${kind}-${Date.now()}`;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const label = button.textContent;
    button.textContent = `${label} …`;
    this.io.status(`rendering ${kind} PDF…`, false, "export");
    const finish = () => {
      button.disabled = !this.io.kernel();
      button.removeAttribute("aria-busy");
      button.textContent = label;
      this.pending.delete(id);
    };
    const timer = setTimeout(() => {
      finish();
      this.io.status(`PDF export: no answer from the kernel after ${EXPORT_TIMEOUT_MS / 1000} s — is it running?`, true, "export");
    }, EXPORT_TIMEOUT_MS);
    this.pending.set(id, { finish, timer });
    /** @type {{type: string, id: string, kind: string, window?: number[]}} */
    const msg = { type: "export", id, kind };
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
      this.io.status(`PDF export failed: ${msg.error}`, true, "export");
      return true;
    }
    const data = buffers[0];
    const bytes = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
    const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)], { type: "application/pdf" }));
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
