// The view labels every hostile token as the figures do (attn_widget/token_text.py):
// tests/golden_wire.py writes the pairs, both sides check them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { visibleToken } from "../geometry.js";

const { tokens } = JSON.parse(readFileSync(new URL("./golden/tokens.text", import.meta.url), "utf8"));

test("every hostile token gets the label Python gives it", () => {
  assert.ok(tokens.length >= 40);
  const wrong = tokens.filter(([raw, shown]) => visibleToken(raw) !== shown);
  assert.deepEqual(wrong.map(([raw, shown]) => [raw, shown, visibleToken(raw)]), []);
});
