"""The widget of a generation: an AttentionWidget with a step, the choices at it, and a stop.

``w.step = t`` shows the forward pass that wrote generated token ``t``: its
query is the token before it, so the heatmap's marked row, the token lines
and the text picture show what the model looked at when it wrote token ``t``.
While the model still writes (a background thread in a notebook), the widget
grows: each new token is published to the view (at most every
:data:`PUBLISH_EVERY` seconds), the step follows the newest token unless the
user moved it, and the view's stop button ends the run after the step under
way. The view's header carries the generation (tokens, the row of each step,
each step's top-k choices); the weights travel as for any widget.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import traitlets

from .extract.generate import Generation
from .widget import AttentionWidget

__all__ = ["PUBLISH_EVERY", "GenerationWidget"]

PUBLISH_EVERY = 0.08  # seconds: a fast model's tokens are sent in batches, not one message each


class GenerationWidget(AttentionWidget):
    """An AttentionWidget over a generation (made by :func:`attn_widget.generate`)."""

    step = traitlets.Any(0).tag(sync=True)
    generating = traitlets.Bool(False).tag(sync=True)

    def __init__(self, run: Generation, *, stop: threading.Event, **kwargs: Any) -> None:
        self._run = run
        self._stop = stop
        self._last_publish = 0.0
        self._publish_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        component = "cross" if "cross" in run.components else "attention"
        kwargs.setdefault("component", component)
        step = kwargs.pop("step", None)
        super().__init__(dict(run.components), **kwargs)
        self.generating = not run.done.is_set()
        self._follow_steps()
        if step is not None:
            self.step = step

    # ----------------------------------------------------------------- access
    @property
    def generation(self) -> Generation:
        return self._run

    @property
    def ids(self) -> list[int]:
        """Prompt + generated token ids (encoder–decoders: decoder start + generated)."""
        return list(self._run.ids)

    @property
    def text(self) -> str:
        """The generated text, without the prompt."""
        return self._run.text

    @property
    def steps(self) -> int:
        """How many tokens have been generated so far."""
        return len(self._run.steps)

    def choices(self, step: int) -> list[dict[str, Any]]:
        """The top-k next tokens at ``step`` (1-based), most probable first.

        Each is ``{"token", "id", "probability"}`` (a softmax of the raw logits).
        """
        self._check_step(step)
        return [dict(choice) for choice in self._run.steps[step - 1]["top"]]

    def stop(self) -> None:
        """End the generation after the step under way; every step so far is kept."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> GenerationWidget:
        """Block until the generation has ended (or ``timeout`` seconds); re-raises its error."""
        self._run.done.wait(timeout)
        if self._thread is not None and self._run.done.is_set():
            self._thread.join(timeout)
        if self._run.error is not None:
            raise self._run.error
        return self

    # ------------------------------------------------------------- validation
    def _check_step(self, step: Any) -> int:
        total = len(self._run.steps)
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"step: expected an integer, got {step!r}")
        if total == 0:
            if step != 0:
                raise ValueError(f"step: nothing generated yet, so expected 0, got {step}")
            return 0
        if step < 0:
            step += total + 1  # -1: the last step, as numpy
        if not 1 <= step <= total:
            raise ValueError(f"step: expected 1..{total}, got {step}")
        return step

    @traitlets.validate("step")
    def _valid_step(self, proposal: dict[str, Any]) -> int:
        return self._check_step(proposal["value"])

    def _check_update(self, update: Any) -> None:
        if isinstance(update, dict) and "step" in update:
            update = dict(update)
            step = update.pop("step")
            if isinstance(step, int) and not isinstance(step, bool) and step < 0:
                raise ValueError(f"step: the view sends 1..{len(self._run.steps)}, got {step}")
            self._check_step(step)
        super()._check_update(update)

    # ---------------------------------------------------------------- growing
    def _payload_extra(self) -> dict[str, Any]:
        run = self._run
        steps = [
            {
                "token": s["token"],
                "id": s["id"],
                "probability": s["probability"],
                "top": [[c["token"], c["probability"]] for c in s["top"]],
            }
            for s in run.steps
        ]
        return {
            "generation": {
                "prompt_length": run.prompt_length,
                "tokens": list(run.tokens),
                "source_tokens": run.source_tokens,
                "rows": [run.prompt_length + t - 2 for t in range(1, len(steps) + 1)],
                "steps": steps,
                "generating": not run.done.is_set(),
                "stopped": run.stopped,
                "error": None if run.error is None else f"{type(run.error).__name__}: {run.error}",
            }
        }

    def _render(self, kind: str | None = None, *, format: str = "pdf", **options: Any) -> bytes:
        """Also ``kind="text"``: the step's text shaded by its attention, with its choices."""
        if kind != "text":
            return super()._render(kind, format=format, **options)
        # matplotlib takes most of a second to import: only a figure loads it.
        from .export.common import style
        from .export.formats import save_figure
        from .export.text import text_figure
        from .state import with_overrides

        state, figure_options = with_overrides(self.state, options)
        state = state.check(self.data)
        dpi = figure_options.pop("dpi", None)
        step = self._check_step(figure_options.pop("step", self.step))
        if step == 0:
            raise ValueError("text: nothing generated yet; expected at least one step")
        run = self._run
        row = run.row_of(step)
        cross = self.data.is_cross
        keys = run.source_tokens if cross and run.source_tokens else run.tokens
        weights = self.data.rows(state.layer, state.head, state.case, row, row + 1)[0]
        entry = run.steps[step - 1]
        title = f"step {step} of {len(run.steps)}: writing {entry['token']!r}"
        with style():
            figure = text_figure(
                keys[: len(weights)] if not cross else keys,
                weights,
                written=run.prompt_length + step - 1,
                choices=entry["top"],
                chosen=entry,
                title=figure_options.pop("title", None) or title,
                gamma=state.gamma,
                options=figure_options,
                target=run.tokens if cross else None,
            )
            return save_figure(figure, format, title, dpi)

    def _page_traits(self) -> dict[str, Any]:
        return {"step": self.step, "generating": False}

    def _on_message(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        if isinstance(content, dict) and content.get("type") == "stop":
            self.stop()
            return
        super()._on_message(widget, content, buffers)

    def _grown(self, final: bool = False) -> None:
        """The generation has a new step (or ended): send it to the view, at most so often."""
        now = time.monotonic()
        if not final and now - self._last_publish < PUBLISH_EVERY:
            return
        with self._publish_lock:
            self._last_publish = now
            # The weights changed: replies kept for the old shape are stale.
            self._server.cache.drop(self._server.owner)
            with self.hold_sync():
                self._publish()
                self._follow_steps()
                self.generating = not (final or self._run.done.is_set())

    def _follow_steps(self) -> None:
        """The step moves with the newest token while it was on the newest one before."""
        total = len(self._run.steps)
        previous = getattr(self, "_followed", 0)
        if total and (self.step in (0, previous)):
            self.set_trait("step", total)
        self._followed = total
