"""The view's PDF buttons: an export request checked, rendered, named, and sent back as bytes.

The PDF is drawn in the kernel and handed to the browser (which offers it as a
download), so it works where the kernel's disk is out of reach (Colab). With
``export_dir`` set a copy is also saved there, never over an earlier file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .._files import write_new
from ..state import ViewState
from ..wire import Reply

__all__ = ["answer_export"]

# Renders the figure ``kind`` of the widget's current view with extra options.
Render = Callable[..., bytes]


def answer_export(
    request: Mapping[str, Any], render: Render, state: ViewState, export_dir: str | None
) -> Reply:
    """The reply to ``{"type": "export", "id", "kind", "window"?}``: the PDF, or the error."""
    # matplotlib takes most of a second to import: only a figure loads it.
    from .. import export

    kind = request.get("kind", "heatmap")
    ident = request.get("id")
    reply: dict[str, Any] = {
        "type": "export",
        "id": ident if isinstance(ident, (str, int)) else None,
        "kind": kind if isinstance(kind, str) else None,
    }
    # A zoomed view sends its window: the heatmap PDF shows what it shows.
    window = request.get("window") if kind == "heatmap" else None
    try:
        if not isinstance(kind, str):
            raise ValueError(f"kind: expected the name of a figure, got {kind!r}")
        options = {"window": tuple(window)} if isinstance(window, (list, tuple)) else {}
        if window is not None and not options:
            raise ValueError(f"window: expected (q0, q1, k0, k1), got {window!r}")
        pdf = render(kind, **options)
        shown = replace(state, window=options.get("window"))
        filename = export.default_filename(
            kind, shown.layer, shown.head, shown.case, window=shown.window
        )
        saved = str(write_new(export_dir, filename, pdf)) if export_dir else None
    except Exception as error:  # every failure reaches the view, which shows it
        return {**reply, "ok": False, "error": f"{type(error).__name__}: {error}"}, []
    return {**reply, "ok": True, "filename": filename, "saved": saved}, [pdf]
