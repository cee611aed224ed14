import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeValues, maxOf } from "../codec.js";

test("float32 values decode exactly, from any offset", () => {
  const src = new Float32Array([0.5, 0.25, 0.125, 1]);
  const out = decodeValues(new Uint8Array(src.buffer), "float32", 1, 1, 2);
  assert.deepEqual([...out], [0.25, 0.125]);
});

test("half floats decode and are divided by the power-of-two scale", () => {
  // 0x3c00 = 1.0, 0x3800 = 0.5, 0x0000 = 0, 0x7bff = 65504
  const bytes = new Uint8Array([0x00, 0x3c, 0x00, 0x38, 0x00, 0x00, 0xff, 0x7b]);
  const out = decodeValues(bytes, "float16", 2, 0, 4);
  assert.deepEqual([...out], [0.5, 0.25, 0, 32752]);
  assert.equal(maxOf(out), 32752);
});

test("half-float subnormals decode", () => {
  const out = decodeValues(new Uint8Array([0x01, 0x00]), "float16", 1, 0, 1);
  assert.equal(out[0], 2 ** -24);
});

test("unknown encodings are refused", () => {
  assert.throws(() => decodeValues(new Uint8Array(4), "int8", 1, 0, 1), /unknown value encoding/);
});
