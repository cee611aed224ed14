import { test } from "node:test";
import assert from "node:assert/strict";
import { buildLut, COLORMAPS, contrast, paintPixels, lutIndex, formatValue, lutLuminance } from "../colormap.js";

const lut = buildLut(COLORMAPS.viridis);

test("the LUT runs from viridis purple to yellow", () => {
  assert.deepEqual([...lut.slice(0, 3)], [68, 1, 84]);
  assert.deepEqual([...lut.slice(255 * 3, 256 * 3)], [253, 231, 37]);
});

test("contrast is (v / max) ** gamma, clamped, and zero for empty slices", () => {
  assert.equal(contrast(0.25, 1, 1), 0.25);
  assert.equal(contrast(0.25, 1, 0.5), 0.5);
  assert.equal(contrast(0.25, 0.5, 2), 0.25);
  assert.equal(contrast(2, 1, 3), 1);
  assert.equal(contrast(0, 1, 0.1), 0);
  assert.equal(contrast(0.3, 0, 1), 0);
});

test("a smaller gamma brightens weak cells, a larger one darkens them", () => {
  const weak = 0.1;
  assert.ok(contrast(weak, 1, 0.5) > contrast(weak, 1, 1));
  assert.ok(contrast(weak, 1, 2) < contrast(weak, 1, 1));
});

test("paintPixels maps the max to the top colour and zero to the bottom", () => {
  const values = new Float32Array([0, 0.5, 1, 0.25]);
  const out = paintPixels(values, 1, 1, lut, new Uint8ClampedArray(16));
  assert.deepEqual([...out.slice(0, 4)], [68, 1, 84, 255]);
  assert.deepEqual([...out.slice(8, 12)], [253, 231, 37, 255]);
  const mid = lutIndex(0.5) * 3;
  assert.deepEqual([...out.slice(4, 7)], [lut[mid], lut[mid + 1], lut[mid + 2]]);
});

test("paintPixels with gamma matches contrast() cell by cell", () => {
  const values = new Float32Array([0.01, 0.2, 0.7, 0.35]);
  const out = paintPixels(values, 0.7, 0.3, lut, new Uint8ClampedArray(16));
  values.forEach((v, i) => {
    const idx = lutIndex(contrast(v, 0.7, 0.3)) * 3;
    assert.deepEqual([...out.slice(i * 4, i * 4 + 3)], [lut[idx], lut[idx + 1], lut[idx + 2]]);
  });
});

test("luminance tells dark cells from light ones", () => {
  assert.ok(lutLuminance(lut, 0) < 0.2);
  assert.ok(lutLuminance(lut, 1) > 0.7);
});

test("formatValue keeps significant digits without noise", () => {
  assert.equal(formatValue(0.123456, 4), "0.1235");
  assert.equal(formatValue(1, 4), "1");
  assert.equal(formatValue(0, 4), "0");
  assert.equal(formatValue(0.00001234, 3), "1.23e-5");
});

test("the bin search gives the same colour as round((v / max) ** gamma * 255)", () => {
  let seed = 11;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const gamma of [0.1, 0.37, 1, 2.5, 5]) {
    const values = Float32Array.from({ length: 2000 }, () => rand() ** 4 * 0.8);
    const max = 0.8;
    const out = paintPixels(values, max, gamma, lut, new Uint8ClampedArray(values.length * 4));
    let mismatches = 0;
    values.forEach((v, i) => {
      const idx = lutIndex(Math.min(1, v / max) ** gamma) * 3;
      if (out[i * 4] !== lut[idx] || out[i * 4 + 1] !== lut[idx + 1] || out[i * 4 + 3] !== 255) mismatches++;
    });
    assert.ok(mismatches <= 2, `gamma ${gamma}: ${mismatches} cells off (float rounding at a bin edge)`);
  }
});
