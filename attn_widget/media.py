"""What a source of image or audio attention carries for the view: arrays beside ``meta["media"]``.

A source from an image, audio or image+text model describes its positions in
``source.meta["media"]`` (JSON: the patch grid, which token indices are
patches, seconds per position; see :mod:`attn_widget.extract.media`) and keeps
the pictures themselves in a :class:`Media` attached as ``source.media``: the
input image as the processor resized it (uint8 ``H x W x 3``) and, for audio,
a waveform envelope. Files hold the image as PNG bytes in a uint8 array (no
pickle); :func:`media_arrays` and :func:`restore_media` are the two calls
:mod:`attn_widget.io` makes. Pure numpy (Pillow only for PNG), no torch.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "MEDIA",
    "Media",
    "attach_media",
    "image_from_png",
    "media_arrays",
    "media_of",
    "png_bytes",
    "restore_media",
]

MEDIA = "media"  # the key in source.meta, and the attribute on the source


@dataclass
class Media:
    """Per-case arrays the view draws under the attention (one entry per case, or none)."""

    images: list[np.ndarray] = field(default_factory=list)  # uint8 (H, W, 3)
    envelopes: list[np.ndarray] = field(default_factory=list)  # float32 (bins, 2): min, max

    def __post_init__(self) -> None:
        for i, image in enumerate(self.images):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(
                    f"images[{i}]: expected a uint8 (H, W, 3) array, got {image.dtype} "
                    f"{tuple(image.shape)}"
                )
        for i, envelope in enumerate(self.envelopes):
            if envelope.ndim != 2 or envelope.shape[1] != 2:
                raise ValueError(
                    f"envelopes[{i}]: expected a (bins, 2) array of min and max, got "
                    f"{tuple(envelope.shape)}"
                )


def attach_media(source: Any, media: Media) -> Any:
    """Give ``source`` its arrays (``source.media``); returns the source."""
    source.media = media
    return source


def media_of(source: Any) -> Media | None:
    """The arrays of an image or audio source, or None for text (``source.media``)."""
    media = source.media
    return media if isinstance(media, Media) else None


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow comes with the media extra
        raise ImportError(
            "saving an image with the attention needs Pillow: pip install 'attn-widget[media]'"
        ) from error
    return Image


def png_bytes(image: np.ndarray) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` image as the bytes of a PNG file (a 1-D uint8 array)."""
    buffer = io.BytesIO()
    _pillow().fromarray(np.ascontiguousarray(image), mode="RGB").save(buffer, format="PNG")
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def image_from_png(data: np.ndarray, what: str = "image") -> np.ndarray:
    """The uint8 ``(H, W, 3)`` image back from :func:`png_bytes`; anything not a PNG is refused."""
    raw = np.asarray(data, dtype=np.uint8).tobytes()
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{what}: expected the bytes of a PNG file, got {raw[:8]!r}")
    try:
        with _pillow().open(io.BytesIO(raw), formats=["PNG"]) as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.uint8).copy()
    except OSError as error:  # a damaged file: Pillow's errors are OSErrors
        raise ValueError(f"{what}: a damaged PNG ({error})") from error


def media_arrays(source: Any, prefix: str) -> dict[str, np.ndarray]:
    """The arrays to write beside a component in a file: ``{prefix}_image{c}`` (PNG), envelopes."""
    media = media_of(source)
    if media is None:
        return {}
    arrays = {f"{prefix}_image{c}": png_bytes(image) for c, image in enumerate(media.images)}
    for c, envelope in enumerate(media.envelopes):
        arrays[f"{prefix}_envelope{c}"] = np.asarray(envelope, dtype=np.float32)
    return arrays


def restore_media(source: Any, archive: Mapping[str, Any] | Any, prefix: str) -> None:
    """Attach what :func:`media_arrays` wrote (``archive``: an open ``np.load``); no-op for text."""
    names = set(archive.files) if hasattr(archive, "files") else set(archive)

    def entries(kind: str) -> list[str]:
        found, c = [], 0
        while f"{prefix}_{kind}{c}" in names:
            found.append(f"{prefix}_{kind}{c}")
            c += 1
        return found

    images = [image_from_png(archive[n], n) for n in entries("image")]
    envelopes = [np.asarray(archive[n], dtype=np.float32) for n in entries("envelope")]
    if images or envelopes:
        attach_media(source, Media(images=images, envelopes=envelopes))
