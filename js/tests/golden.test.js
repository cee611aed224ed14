// The golden buffers Python writes (tests/golden_wire.py) decode here to the
// values Python says they hold: the codec cannot drift from attn_widget/wire.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { decodePayload, cubeSlice, decodeReply, decodeValues } from "../codec.js";

const folder = new URL("./golden/", import.meta.url);
const load = (name) => {
  const doc = JSON.parse(readFileSync(new URL(`${name}.json`, folder), "utf8"));
  const buffers = doc.buffers.map((file) => {
    const bytes = readFileSync(new URL(file, folder));
    // As the browser hands them over: DataViews at an offset into a larger buffer.
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    return new DataView(padded.buffer, 3, bytes.length);
  });
  return { ...doc, buffers };
};

/** Each decoded value equals the expected float32 within `rel` (0: exactly). */
function close(got, want, rel = 0) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.abs(want[i]) + (rel ? 1e-12 : 0);
    assert.ok(Math.abs(got[i] - Math.fround(want[i])) <= tol, `value ${i}: ${got[i]} vs ${want[i]}`);
  }
}

test("every golden file has a test here", () => {
  const names = readdirSync(folder).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(names, ["links", "overlay", "payload_cube", "payload_half", "payload_media", "payload_slices", "regions",
    "thumbs", "tile_exact", "tile_half", "token"]);
});

for (const name of ["payload_cube", "payload_half", "payload_slices"]) {
  test(`${name}: the header and every slice of the cube`, () => {
    const { buffers, expected } = load(name);
    const { header, cube } = decodePayload(buffers[0]);
    assert.deepEqual(header, expected.header);
    assert.equal(header.tokens[1][3], "é中😀");
    if (header.tier === "slices") {
      assert.equal(cube, null);
      return;
    }
    const rel = header.encoding.dtype === "float16" ? 2 ** -11 : 1e-6;
    for (const { id, values } of expected.slices) close(cubeSlice(header, cube, id).values, values, rel);
  });
}

test("payload_media: the picture and the envelope follow the cube", () => {
  const { buffers, expected } = load("payload_media");
  const { header, cube, blobs } = decodePayload(buffers[0]);
  assert.deepEqual(header, expected.header);
  assert.equal(cube.byteLength, 2 * 2 * 2 * 4); // one layer, a head and the mean, 2 x 2
  const image = header.media.images[0];
  assert.deepEqual([image.height, image.width], [2, 3]);
  assert.deepEqual([...blobs[image.blob]], expected.image);
  const envelope = header.media.envelopes[0];
  close(decodeValues(blobs[envelope.blob], "float32", 1, 0, envelope.bins * 2), expected.envelope);
});

test("tile replies: exact and half floats", () => {
  const exact = load("tile_exact");
  const tile = decodeReply(exact.content, exact.buffers, null);
  assert.equal(tile.values.length, exact.expected.count);
  for (const [i, v] of exact.expected.samples) assert.equal(tile.values[i], Math.fround(v));
  assert.equal(tile.exact, true);
  assert.deepEqual([tile.rows, tile.cols, tile.fq, tile.fk], [2, 2, 1, 1]);
  const half = load("tile_half");
  const pooled = decodeReply(half.content, half.buffers, null);
  assert.equal(pooled.exact, false);
  assert.equal(pooled.values.length, half.expected.count);
  for (const [i, v] of half.expected.samples) assert.equal(pooled.values[i], Math.fround(v));
});

test("links, token, thumbs, regions and overlay replies", () => {
  const links = load("links");
  const got = decodeReply(links.content, links.buffers, null);
  assert.deepEqual([...got.order], links.expected.order);
  close(got.weights, links.expected.weights);
  const token = load("token");
  close(decodeReply(token.content, token.buffers, null).values, token.expected.values);
  const thumbs = load("thumbs");
  const t = decodeReply(thumbs.content, thumbs.buffers, { n_heads: thumbs.expected.heads });
  close(t.values, thumbs.expected.values);
  const regions = load("regions");
  assert.deepEqual(decodeReply(regions.content, regions.buffers, null).rects, regions.expected.rects);
  const overlay = load("overlay");
  const o = decodeReply(overlay.content, overlay.buffers, null);
  close(o.channels.base, overlay.expected.base);
  close(o.channels.series, overlay.expected.series);
  assert.deepEqual([o.kind, o.steps, o.scaleMax], ["evolution", 3, 0.75]);
});
