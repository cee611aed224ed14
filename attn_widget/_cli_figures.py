"""Which figures the ``attn-widget figures`` command writes: files, kinds, slices, options.

Planning only (nothing is drawn or written here), so the command's file
layout is one function with one test:

* by default ``all_layers_avg.<ext>`` (the head mean of every layer) and, with
  ``per_head``, ``layer_<i>.<ext>`` (every head of layer ``i``) for every layer;
* ``layers`` (``--layer``, negative from the end): only ``layer_<i>.<ext>``
  of those layers;
* ``heads`` (``--head``, a number or ``mean``): single heatmaps
  ``layer_<i>_head_<h>.<ext>`` (``layer_<i>_mean``) of the chosen layers
  (every layer without ``layers``);
* several cases go to ``text_<n>/`` and several components to
  ``encoder/``, ``decoder/``, ``cross/``;
* ``out`` naming a file (``.pdf``, ``.svg``, ``.png``) takes exactly one figure.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .data import AttentionSource
from .export import FORMATS
from .state import check_index

__all__ = ["Job", "is_file_target", "plan"]


@dataclass(frozen=True)
class Job:
    """One figure to write: ``render_pdf(source, kind, layer=, head=, case=, **options)``."""

    path: pathlib.Path
    component: str
    kind: str
    layer: int
    head: int | None
    case: int
    options: dict[str, Any] = field(default_factory=dict)


def is_file_target(out: pathlib.Path) -> bool:
    """Whether ``--out`` names one figure file (by a figure extension) rather than a folder."""
    return out.suffix.lower().lstrip(".") in FORMATS


def _head(value: str, count: int) -> int | None:
    if value == "mean":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"--head: expected a head number or 'mean', got {value!r}") from None
    return check_index("--head", number, count, negative=True)


def plan(
    components: Mapping[str, AttentionSource],
    out: pathlib.Path,
    *,
    fmt: str,
    per_head: bool = False,
    layers: Sequence[int] = (),
    heads: Sequence[str] = (),
    figure_options: Mapping[str, Any] | None = None,
) -> list[Job]:
    """The figures to write into ``out`` (a folder, or one file); a ValueError for bad choices.

    ``figure_options`` (``per_row``, ``width``, ...) go to every figure that
    takes them: ``per_row`` to the grids only.
    """
    common = dict(figure_options or {})
    grid_options = dict(common)
    heatmap_options = {k: v for k, v in common.items() if k != "per_row"}
    single = is_file_target(out)
    folder = out.parent if single else out
    cases = max(data.n_cases for data in components.values())
    jobs: list[Job] = []
    for name, data in components.items():
        chosen = [check_index("--layer", layer, data.n_layers, negative=True) for layer in layers]
        chosen = list(dict.fromkeys(chosen))
        chosen_heads = list(dict.fromkeys(_head(h, data.n_heads) for h in heads))
        for case in range(data.n_cases):
            where = folder
            if cases > 1:
                where = where / f"text_{case}"
            if len(components) > 1:
                where = where / name
            if chosen_heads:
                for layer in chosen or range(data.n_layers):
                    for head in chosen_heads:
                        part = "mean" if head is None else f"head_{head}"
                        path = where / f"layer_{layer}_{part}.{fmt}"
                        jobs.append(Job(path, name, "heatmap", layer, head, case, heatmap_options))
                continue
            if not chosen:
                options = {**grid_options, "heads": "mean"}
                jobs.append(Job(where / f"all_layers_avg.{fmt}", name, "grid", 0, 0, case, options))
            if per_head or chosen:
                for layer in chosen or range(data.n_layers):
                    options = {**grid_options, "layers": "current", "heads": "all"}
                    path = where / f"layer_{layer}.{fmt}"
                    jobs.append(Job(path, name, "grid", layer, 0, case, options))
    if single:
        if len(jobs) != 1:
            raise ValueError(
                f"--out: {out} names one file, but {len(jobs)} figures would be written; "
                "give a folder, or choose one figure (--layer L --head H, one text, --component)"
            )
        jobs = [replace(jobs[0], path=out)]
    return jobs
