"""The view's export buttons: a request checked, rendered, named, and sent back as bytes.

The figure (PDF, SVG or PNG: the request's ``format``) is drawn in the kernel
and handed to the browser (which offers it as a download), so it works where
the kernel's disk is out of reach (Colab). With ``export_dir`` set a copy is
also saved there, never over an earlier file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .._files import write_new
from ..state import ViewState
from ..wire import Reply

__all__ = ["MIME_TYPES", "answer_export"]

# Renders the figure ``kind`` of the widget's current view with extra options.
Render = Callable[..., bytes]
# What the browser names the download's Blob.
MIME_TYPES = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}


def answer_export(
    request: Mapping[str, Any], render: Render, state: ViewState, export_dir: str | None
) -> Reply:
    """The reply to ``{"type": "export", "id", "kind", "format"?, "window"?}``: file or error.

    ``format`` is ``"pdf"`` (the default), ``"svg"`` or ``"png"``; the reply
    names it with its ``mime`` type and a ``filename`` with its extension.
    """
    # matplotlib takes most of a second to import: only a figure loads it.
    from .. import export

    kind = request.get("kind", "heatmap")
    ident = request.get("id")
    requested = request.get("format", "pdf")
    reply: dict[str, Any] = {
        "type": "export",
        "id": ident if isinstance(ident, (str, int)) else None,
        "kind": kind if isinstance(kind, str) else None,
        "format": requested if isinstance(requested, str) else None,
    }
    # A zoomed view sends its window: the heatmap PDF shows what it shows.
    window = request.get("window") if kind == "heatmap" else None
    try:
        if not isinstance(kind, str):
            raise ValueError(f"kind: expected the name of a figure, got {kind!r}")
        fmt = export.check_format(requested)
        options = {"window": tuple(window)} if isinstance(window, (list, tuple)) else {}
        if window is not None and not options:
            raise ValueError(f"window: expected (q0, q1, k0, k1), got {window!r}")
        figure = render(kind, format=fmt, **options)
        shown = replace(state, window=options.get("window"))
        filename = export.default_filename(
            kind, shown.layer, shown.head, shown.case, window=shown.window, format=fmt
        )
        saved = str(write_new(export_dir, filename, figure)) if export_dir else None
    except Exception as error:  # every failure reaches the view, which shows it
        return {**reply, "ok": False, "error": f"{type(error).__name__}: {error}"}, []
    reply = {**reply, "format": fmt, "mime": MIME_TYPES[fmt]}
    return {**reply, "ok": True, "filename": filename, "saved": saved}, [figure]
