// The control row: labelled sliders, the head-mean choice, the component
// choice and the export buttons. All text goes in as text, never as HTML.

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {string} [text]
 */
export function element(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Keep notebook shortcuts (JupyterLab binds arrow keys in a notebook) away
 * from our inputs, so arrow keys move the focused slider.
 * @param {HTMLElement} el
 */
export function guardKeys(el) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  el.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") event.stopPropagation();
  });
}

/**
 * A labelled range slider with its current value shown beside it.
 * @param {{dim: string, label: string, min: number, max: number, step: number,
 *   format: (v: number) => string, onInput: (v: number) => void}} spec
 */
export function slider(spec) {
  const row = element("label", { class: "aw-control", "data-dim": spec.dim });
  row.append(element("span", { class: "aw-control-name" }, spec.label));
  const input = /** @type {HTMLInputElement} */ (
    element("input", {
      type: "range", class: "aw-slider", "data-dim": spec.dim,
      min: String(spec.min), max: String(spec.max), step: String(spec.step),
      "aria-label": spec.label,
    })
  );
  const value = element("output", { class: "aw-value", "data-dim": spec.dim });
  guardKeys(input);
  input.addEventListener("input", () => spec.onInput(Number(input.value)));
  row.append(input, value);
  return {
    row,
    input,
    /** Show `v` and the range [min, max]; a one-value dimension is disabled, not hidden. */
    set(v, min = spec.min, max = spec.max) {
      input.min = String(min);
      input.max = String(max);
      input.disabled = max <= min;
      if (Number(input.value) !== v) input.value = String(v);
      value.textContent = spec.format(v);
      input.setAttribute("aria-valuetext", spec.format(v));
    },
  };
}

/**
 * @param {{label: string, onChange: (checked: boolean) => void}} spec
 */
export function checkbox(spec) {
  const row = element("label", { class: "aw-check" });
  const input = /** @type {HTMLInputElement} */ (element("input", { type: "checkbox", class: "aw-head-mean" }));
  guardKeys(input);
  input.addEventListener("change", () => spec.onChange(input.checked));
  row.append(input, element("span", {}, spec.label));
  return { row, input };
}
