// attn_widget's view, as an anywidget module: linked heatmap and token-line
// pictures with sliders for layer, head, case and contrast, zoom, an overview
// grid and PDF export buttons (see view.js for how the parts fit).

import { AttentionView } from "./view.js";

export default {
  /** @param {{model: import("./store.js").Model, el: HTMLElement}} ctx */
  render({ model, el }) {
    const view = new AttentionView(model, el);
    return () => view.dispose();
  },
};
