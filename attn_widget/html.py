"""A widget saved as one self-contained HTML file that works without a kernel.

The page holds the view's JavaScript bundle, its CSS and the whole attention
cube inline, so it opens from disk in any browser with no network. Sliders,
hover, zoom and the overview run in the page; PDF export needs a kernel and
its buttons say so.

Everything the page embeds that could hold user text (tokens, metadata) goes
in base64, and the bundle too, so no token can close a ``<script>`` element or
add markup: token text only ever reaches the page through ``textContent`` and
canvas ``fillText``.
"""

from __future__ import annotations

import base64
import html
import json
import pathlib
from collections.abc import Mapping
from typing import Any

from ._files import write_atomic
from .data import AttentionSource
from .payload import cube_size, view_payload
from .state import ViewState

__all__ = ["DEFAULT_MAX_BYTES", "save_html"]

# A saved page above this many bytes of attention data is refused: browsers
# open pages of tens of MB comfortably, hundreds poorly.
DEFAULT_MAX_BYTES = 40_000_000
_STATIC = pathlib.Path(__file__).parent / "static"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:">
<title>{title}</title>
<style>body {{ margin: 16px; font-family: system-ui, sans-serif; }}
{css}</style>
</head>
<body>
<div id="attn-widget"></div>
<script type="application/octet-stream" id="aw-bundle">{bundle}</script>
<script type="application/octet-stream" id="aw-state">{state}</script>
<script type="application/octet-stream" id="aw-payload">{payload}</script>
<script type="module">
const text = (id) => document.getElementById(id).textContent;
// A plain loop: Uint8Array.from(string, fn) calls back per byte and is 20x slower.
const bytes = (b64) => {{
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}};
const state = JSON.parse(new TextDecoder().decode(bytes(text("aw-state"))));
const payload = bytes(text("aw-payload"));
state._payload = new DataView(payload.buffer);
const listeners = new Map();
// A model with no kernel behind it: the view's own changes are its state.
const model = {{
  get: (name) => state[name],
  set(name, value) {{
    if (state[name] === value) return;
    state[name] = value;
    for (const fn of listeners.get(`change:${{name}}`) || []) fn();
  }},
  save_changes() {{}},
  on(events, fn) {{ for (const e of events.split(" ")) listeners.set(e, [...(listeners.get(e) || []), fn]); }},
  off(events, fn) {{ for (const e of events.split(" ")) listeners.set(e, (listeners.get(e) || []).filter((f) => f !== fn)); }},
  send() {{}},
}};
const url = URL.createObjectURL(new Blob([bytes(text("aw-bundle"))], {{ type: "text/javascript" }}));
const view = await import(url);
view.default.render({{ model, el: document.getElementById("attn-widget") }});
window.attnWidgetModel = model;
</script>
</body>
</html>
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def save_html(
    components: Mapping[str, AttentionSource],
    component: str,
    state: ViewState,
    path: str | pathlib.Path,
    *,
    large: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    title: str | None = None,
    header: Mapping[str, Any] | None = None,
    traits: Mapping[str, Any] | None = None,
) -> pathlib.Path:
    """Write ``component`` of ``components`` as one HTML file that needs no kernel.

    The page opens showing ``state`` (layer, head or mean, case, gamma,
    selection). The whole cube goes in (exact float32 when it fits in
    ``max_bytes``, else half floats). Above ``max_bytes`` even as half floats
    ``header`` adds fields to the view's header (a generation's steps) and
    ``traits`` more synced traits (its ``step``). Above ``max_bytes`` even as half floats
    this raises a ``ValueError`` that says how large the data is: select fewer
    layers or cases first (e.g. ``AttentionWidget(attentions[:4], tokens)``).
    Returns the written path; the write is atomic.
    """
    source = components[component]
    state = state.check(source)
    if not source.holds_weights:
        raise ValueError(
            "save_html: attention computed on demand (lazy=True) cannot be saved whole; "
            "extract it without lazy=True for a shorter text, or export PDFs instead"
        )
    bundle_path = _STATIC / "widget.js"
    if not bundle_path.exists():
        raise FileNotFoundError(
            f"save_html: the JavaScript bundle {bundle_path} is missing; run `npm run build`"
        )
    values = cube_size(source)  # heads + the head mean
    if values * 2 > max_bytes:
        raise ValueError(
            f"save_html: the attention holds {values:,} values ({values * 2 / 1e6:.0f} MB as half "
            f"floats), over max_bytes={max_bytes:,}. Pass fewer layers or cases to "
            "AttentionWidget for the page, or raise max_bytes."
        )
    payload = view_payload(components, component, max_bytes, kernel=False, extra=header)
    synced: dict[str, Any] = {
        "layer": state.layer,
        "head": state.head if state.head is not None else 0,
        "head_mean": state.head is None,
        "case": state.case,
        "gamma": state.gamma,
        "component": component,
        "selection": state.selection,
        "large": bool(large),
        **(traits or {}),
    }
    page = _PAGE.format(
        title=html.escape(title or "attention"),
        css=(_STATIC / "widget.css").read_text(encoding="utf-8").replace("</", "<\\/"),
        bundle=_b64(bundle_path.read_bytes()),
        state=_b64(json.dumps(synced).encode("utf-8")),
        payload=_b64(payload),
    )
    return write_atomic(path, page.encode("utf-8"))
