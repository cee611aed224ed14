// Decoding of the binary attention values sent by attn_widget/wire.py.
// float16: half floats multiplied by a power-of-two `scale`; float32: plain.

/** @type {Float32Array | null} */
let halfTable = null;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Lookup table from the 65536 half-float bit patterns to their values. */
function halfToFloatTable() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    let value;
    if (exponent === 0) value = fraction * 2 ** -24;
    else if (exponent === 31) value = fraction ? NaN : Infinity;
    else value = (1 + fraction / 1024) * 2 ** (exponent - 15);
    halfTable[bits] = sign * value;
  }
  return halfTable;
}

/**
 * Decode `count` values starting at value index `start` of an encoded buffer.
 * @param {ArrayBuffer | DataView | Uint8Array} buffer
 * @param {"float16" | "float32"} dtype
 * @param {number} scale
 * @param {number} start
 * @param {number} count
 * @returns {Float32Array}
 */
export function decodeValues(buffer, dtype, scale, start, count) {
  const bytes = asBytes(buffer);
  const out = new Float32Array(count);
  if (dtype === "float32") {
    const offset = bytes.byteOffset + start * 4;
    if (LITTLE_ENDIAN && offset % 4 === 0) {
      out.set(new Float32Array(bytes.buffer, offset, count));
      return out;
    }
    const view = new DataView(bytes.buffer, offset, count * 4);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (dtype !== "float16") throw new Error(`unknown value encoding ${dtype}`);
  const table = halfToFloatTable();
  const base = bytes.byteOffset + start * 2;
  const inv = 1 / scale;
  if (LITTLE_ENDIAN && base % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, base, count);
    for (let i = 0; i < count; i++) out[i] = table[halves[i]] * inv;
    return out;
  }
  // Little-endian half floats at an odd offset: read byte pairs.
  const u8 = new Uint8Array(bytes.buffer, base, count * 2);
  for (let i = 0; i < count; i++) out[i] = table[u8[2 * i] | (u8[2 * i + 1] << 8)] * inv;
  return out;
}

/** @param {ArrayBuffer | DataView | Uint8Array} buffer */
function asBytes(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new Error("expected binary attention data");
}

/** @param {Float32Array} values */
export function maxOf(values) {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return max;
}
