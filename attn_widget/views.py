"""The analysis widgets: an AttentionWidget whose cells carry an overlay.

The view asks for each slice's overlay channels (``{"type": "overlay"}``
requests, answered through :mod:`attn_widget.serve` and laid out by
:func:`attn_widget.wire.overlay_reply`) and draws them; the PDF button of the
view's own figure renders :func:`attn_widget.export.render_analysis_pdf`.
"""

from __future__ import annotations

from typing import Any

from . import wire
from .data import AttentionData, AttentionSource
from .overlays import Overlay
from .serve import Handler
from .state import with_overrides
from .widget import AttentionWidget

__all__ = ["AnalysisWidget"]


class AnalysisWidget(AttentionWidget):
    """An AttentionWidget whose cells carry an analysis overlay (made by attn_widget.api)."""

    def __init__(self, data: AttentionData, overlay: Overlay, **kwargs: Any) -> None:
        self._overlay = overlay
        super().__init__(data, **kwargs)

    def _payload_extra(self) -> dict[str, Any]:
        return {"analysis": self._overlay.meta}

    def _extra_handlers(self) -> dict[str, Handler]:
        return {"overlay": self._overlay_reply}

    def _overlay_reply(self, _source: AttentionSource, request: dict[str, Any]) -> wire.Reply:
        channels, scale_max, steps = self._overlay.channels(
            request["layer"], request["head"], request["case"]
        )
        return wire.overlay_reply(self._overlay.kind, channels, scale_max, steps)

    def _render(self, kind: str | None = None, *, format: str = "pdf", **options: Any) -> bytes:
        """The analysis figure (``kind`` None or the overlay's kind), or any AttentionWidget figure.

        ``export_pdf(path)`` writes the analysis figure; view-state fields
        among ``options`` override the view's, as for every figure.
        """
        kind = kind or self._overlay.kind
        if kind != self._overlay.kind:
            return super()._render(kind, format=format, **options)
        # matplotlib takes most of a second to import: only a figure loads it.
        from .export import render_analysis_pdf

        state, figure_options = with_overrides(self.state, options)
        state = state.check(self.data)
        channels, scale_max, _ = self._overlay.channels(state.layer, state.head, state.case)
        return render_analysis_pdf(
            self.data,
            kind,
            channels,
            layer=state.layer,
            head=state.head,
            case=state.case,
            gamma=state.gamma,
            scale_max=scale_max,
            n=len(self._overlay.sources),
            format=format,
            **figure_options,
        )
