// Colour mapping shared by the heatmap, the colour bar and the lines.
// Contrast rule (identical to the PDF export's PowerNorm with vmin 0):
//   t = (value / max of the slice) ** gamma, clamped to [0, 1].

/** Viridis, sampled at 11 evenly spaced stops (matplotlib's map). */
const VIRIDIS = [
  [68, 1, 84], [72, 36, 117], [65, 68, 135], [53, 95, 141], [42, 120, 142],
  [33, 145, 140], [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38],
  [253, 231, 37],
];

/** Large-print, high-contrast map for projectors: black → orange → white. */
const PROJECTOR = [[0, 0, 0], [120, 20, 0], [230, 90, 0], [255, 190, 40], [255, 255, 255]];

export const COLORMAPS = { viridis: VIRIDIS, projector: PROJECTOR };

/**
 * A 256-entry RGB lookup table interpolated between the stops.
 * @param {number[][]} stops
 * @returns {Uint8ClampedArray} 256 * 3 bytes
 */
export function buildLut(stops) {
  const lut = new Uint8ClampedArray(256 * 3);
  const segments = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * segments;
    const j = Math.min(segments - 1, Math.floor(x));
    const f = x - j;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(stops[j][c] * (1 - f) + stops[j + 1][c] * f);
  }
  return lut;
}

/**
 * Contrast-adjusted intensity in [0, 1].
 * @param {number} value
 * @param {number} max the slice maximum
 * @param {number} gamma
 */
export function contrast(value, max, gamma) {
  if (!(max > 0) || !(value > 0)) return 0;
  const t = value / max;
  return t >= 1 ? 1 : t ** gamma;
}

/** Index into a 256-entry LUT for an intensity in [0, 1]. */
export function lutIndex(t) {
  return Math.max(0, Math.min(255, Math.round(t * 255)));
}

/**
 * The 255 boundaries between LUT entries in the value's fraction of the maximum:
 * entry b covers t in [bounds[b - 1], bounds[b]), the same bins as
 * round(t ** gamma * 255), found without a power per cell.
 * @param {number} gamma
 */
export function contrastBounds(gamma) {
  const bounds = new Float64Array(255);
  for (let b = 0; b < 255; b++) bounds[b] = ((b + 0.5) / 255) ** (1 / gamma);
  return bounds;
}

/**
 * Fill RGBA pixels for a matrix, one pixel a cell.
 * @param {Float32Array} values row-major q × k
 * @param {number} max
 * @param {number} gamma
 * @param {Uint8ClampedArray} lut
 * @param {Uint8ClampedArray} out RGBA, length 4 * values.length
 */
export function paintPixels(values, max, gamma, lut, out) {
  const inv = max > 0 ? 1 / max : 0;
  const bounds = contrastBounds(gamma);
  // 32-bit writes, and a binary search over the bin bounds instead of a pow per cell.
  const pixels = new Uint32Array(out.buffer, out.byteOffset, values.length);
  const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const packed = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]];
    packed[i] = little ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  }
  for (let i = 0; i < values.length; i++) {
    const t = values[i] * inv;
    let lo = 0;
    let hi = 255;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (t >= bounds[mid]) lo = mid + 1;
      else hi = mid;
    }
    pixels[i] = packed[lo];
  }
  return out;
}

/** CSS colour of one LUT entry. */
export function lutColor(lut, t) {
  const i = lutIndex(t) * 3;
  return `rgb(${lut[i]}, ${lut[i + 1]}, ${lut[i + 2]})`;
}

/** Relative luminance (0..1) of a LUT entry: picks dark or light text on a cell. */
export function lutLuminance(lut, t) {
  const i = lutIndex(t) * 3;
  return (0.2126 * lut[i] + 0.7152 * lut[i + 1] + 0.0722 * lut[i + 2]) / 255;
}

/** Round a value for display: `digits` significant digits, no exponent for usual weights. */
export function formatValue(value, digits = 4) {
  if (value === 0) return "0";
  if (Math.abs(value) < 1e-4) return value.toExponential(digits - 1);
  return Number(value.toPrecision(digits)).toString();
}
