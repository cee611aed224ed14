"""One captured forward pass of an image, audio or image+text model, checked and labelled.

The shared tail of every media extraction: axes without padding for image
and audio positions, the transformers capture function around one forward
pass (:func:`~attn_widget.extract.interface.capturing` with a
:class:`~attn_widget.extract.record.Recorder`, or any recorder with the same
``attend``), the weight checks, and the media arrays attached to each source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..media import MEDIA, Media, attach_media
from .media_checks import Blocked, check_sources

__all__ = ["capture_once", "full_axis", "model_name", "storage_dtype", "with_media"]


def storage_dtype(dtype: Any) -> np.dtype:
    try:
        value = np.dtype(str(dtype).replace("torch.", ""))
    except TypeError as error:
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}") from error
    if value not in (np.float32, np.float16):
        raise ValueError(f"dtype: expected 'float32' or 'float16', got {dtype!r}")
    return value


def model_name(model: Any) -> str:
    return str(getattr(model, "name_or_path", "") or type(model).__name__)


def full_axis(tokens: Sequence[Sequence[str]]) -> Any:
    """An :class:`~attn_widget.extract.record.Axis` whose positions are all real (no padding)."""
    import torch

    from .record import Axis

    lengths = {len(t) for t in tokens}
    if len(lengths) != 1:
        raise ValueError(f"tokens: expected one length for every case, got {sorted(lengths)}")
    mask = torch.ones(len(tokens), lengths.pop(), dtype=torch.long)
    lists = [list(t) for t in tokens]
    return Axis.from_mask(mask, lists, [list(t) for t in lists])


def module_names(parts: Mapping[str, Any], default: str) -> Callable[[Any], str]:
    """module -> component: the first of ``parts`` (name -> module) holding it, else ``default``."""
    names: dict[int, str] = {}
    for name, root in parts.items():
        for module in root.modules():
            names.setdefault(id(module), name)
    return lambda module: names.get(id(module), default)


def capture_once(model: Any, recorder: Any, run: Callable[[], Any]) -> Any:
    """``run()`` once with ``model`` switched to the capture function; its output."""
    import torch

    from .interface import capturing

    with torch.no_grad(), capturing(model, recorder) as switched:
        if not switched:
            raise ValueError(
                f"{type(model).__name__}: could not be switched to attn_widget's attention "
                "function (it does not call transformers' attention interface)"
            )
        output = run()
    if getattr(recorder, "empty", False):
        raise ValueError(f"{type(model).__name__}: no layer called the attention function")
    return output


def with_media(
    sources: Mapping[str, Any],
    *,
    causal: Mapping[str, bool],
    media: Mapping[str, tuple[dict[str, Any], Media]],
    blocked: Mapping[str, Blocked] | None = None,
) -> dict[str, Any]:
    """Check every source's weights, then give each media component its meta and arrays."""
    check_sources(sources, causal, blocked)
    for name, (meta, arrays) in media.items():
        if name in sources:
            sources[name].meta[MEDIA] = meta
            attach_media(sources[name], arrays)
    return dict(sources)
