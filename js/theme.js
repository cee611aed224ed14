// Colours of the view, taken from the notebook's theme.
// JupyterLab exposes CSS variables (--jp-*); VS Code has --vscode-*; elsewhere
// we follow the page's background brightness.

/**
 * @typedef {{background: string, text: string, muted: string, border: string,
 *   accent: string, line: string, highlight: string, dark: boolean, font: string}} Theme
 */

/** @param {Element} el @returns {Theme} */
export function readTheme(el) {
  const css = getComputedStyle(el);
  const v = (name) => css.getPropertyValue(name).trim();
  const background =
    v("--jp-layout-color0") || v("--vscode-editor-background") || effectiveBackground(el) || "#ffffff";
  const dark = isDark(background);
  return {
    background,
    dark,
    text: v("--jp-ui-font-color1") || v("--vscode-editor-foreground") || (dark ? "#e6e6e6" : "#1a1a1a"),
    muted: v("--jp-ui-font-color2") || (dark ? "#a0a0a0" : "#616161"),
    border: v("--jp-border-color2") || (dark ? "#444444" : "#d0d0d0"),
    accent: v("--jp-brand-color1") || (dark ? "#4aa3ff" : "#1565c0"),
    line: dark ? "#7cc4ff" : "#1f5fae",
    highlight: dark ? "#ffb74d" : "#d84315",
    font: v("--jp-code-font-family") || "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
  };
}

/** The first non-transparent background colour up the tree. */
function effectiveBackground(el) {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && bg !== "transparent" && !/rgba\(.*,\s*0\)$/.test(bg)) return bg;
  }
  return "";
}

/** Whether a CSS colour is dark (perceived luminance below one half). */
export function isDark(color) {
  const rgb = parseColor(color);
  if (!rgb) return false;
  return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255 < 0.5;
}

/** Parse #rgb, #rrggbb and rgb()/rgba() colours. */
export function parseColor(color) {
  const c = color.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(c);
  if (m) return [...m[1]].map((h) => parseInt(h + h, 16));
  m = /^#([0-9a-f]{6})/i.exec(c);
  if (m) {
    const hex = m[1];
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/i.exec(c);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  return null;
}
