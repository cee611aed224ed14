"""Images in, pixel values out: input checks, the processor, the picture it made, the patch grid.

Users hand over PIL images, numpy ``H x W x C`` arrays, torch ``C x H x W``
tensors, or a list of them (one case each; a 4-D array or tensor is a batch
of them). Each is copied before anything else (the caller's array is never
written to), its channels are checked against what the model takes, and it
goes through the model's image processor alone. The picture the view draws
is the processor's output with its normalisation undone: the image as the
model saw it (resized, cropped), as uint8 ``H x W x 3``.

Patches are row-major: patch ``k`` after the prefix tokens is grid cell
``divmod(k, cols)`` and covers pixels ``[r·p, (r+1)·p) x [c·p, (c+1)·p)`` of
the processed image (checked in MULTIMODAL-NOTES by moving one pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PatchGrid",
    "Prepared",
    "as_images",
    "describe",
    "display_image",
    "image_processor_of",
    "patch_label",
    "prepare_images",
]


def describe(value: Any) -> str:
    """A short description of what came, for error messages."""
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} ({getattr(value, 'dtype', '?')})"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    size = getattr(value, "size", None)
    mode = getattr(value, "mode", None)
    if mode is not None and size is not None:
        return f"a PIL image in mode {mode!r}, size {size}"
    return type(value).__name__


def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - without Pillow nobody has a PIL image
        return False
    return isinstance(value, Image.Image)


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def is_image_like(value: Any) -> bool:
    """A PIL image, an array or a tensor (of any shape: the checks come later)."""
    return _is_pil(value) or isinstance(value, np.ndarray) or _is_tensor(value)


TAKES = "images (PIL images, numpy H x W x C arrays, torch C x H x W tensors, or a list of them)"


def _one(value: Any, i: int, model_name: str) -> np.ndarray:
    """One image as a new ``(H, W, C)`` numpy array: uint8, or float32 in [0, 1]."""
    where = f"image {i}"
    if _is_pil(value):
        array = np.array(value)  # a copy
    elif _is_tensor(value):
        tensor = value.detach().cpu()
        if tensor.ndim == 3:
            tensor = tensor.permute(1, 2, 0)  # C x H x W -> H x W x C
        elif tensor.ndim != 2:
            raise ValueError(
                f"{model_name}: takes {TAKES}; got {where}, a torch tensor of shape "
                f"{tuple(value.shape)} (expected C x H x W)"
            )
        array = tensor.numpy().copy()
    elif isinstance(value, np.ndarray):
        array = np.array(value, copy=True)
        if (
            array.ndim == 3
            and array.shape[2] not in (1, 2, 3, 4)
            and array.shape[0] in (1, 2, 3, 4)
        ):
            raise ValueError(
                f"{model_name}: takes numpy images as H x W x C; got {where} of shape "
                f"{array.shape}, which looks like C x H x W: pass image.transpose(1, 2, 0)"
            )
    else:
        raise ValueError(f"{model_name}: takes {TAKES}; got {where}: {describe(value)}")
    if array.ndim == 1:
        raise ValueError(
            f"{model_name}: takes {TAKES}; got {where}, a 1-D array of {array.shape[0]} values "
            "(a waveform? this is an image model)"
        )
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(
            f"{model_name}: takes {TAKES}; got {where} with shape {array.shape} "
            "(expected H x W x C)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{model_name}: got {where} with no pixels (shape {array.shape})")
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"{model_name}: {where} has NaN or infinite pixel values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{model_name}: takes float images with values in [0, 1] (or uint8 0..255); "
                f"got {where} with values in [{low:.3g}, {high:.3g}] (already normalised? "
                "give the image before the processor)"
            )
        return array.astype(np.float32)
    raise ValueError(
        f"{model_name}: takes uint8 images (0..255) or float images (0..1); got {where} of "
        f"dtype {array.dtype}"
    )


def as_images(images: Any, model_name: str, channels: int) -> list[np.ndarray]:
    """Every image of ``images`` as its own ``(H, W, C)`` copy; checks channels and types."""
    if isinstance(images, str):
        raise ValueError(f"{model_name}: takes {TAKES}; got {describe(images)}")
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{model_name}: takes {TAKES}; got an empty {type(images).__name__}")
        items = list(images)
    elif (isinstance(images, np.ndarray) or _is_tensor(images)) and images.ndim == 4:
        items = list(images)  # a batch: one case per image
    elif is_image_like(images):
        items = [images]
    else:
        raise ValueError(f"{model_name}: takes {TAKES}; got {describe(images)}")
    out = [_one(value, i, model_name) for i, value in enumerate(items)]
    for i, array in enumerate(out):
        if array.shape[2] != channels:
            raise ValueError(
                f"{model_name}: takes images with {channels} channels (config.num_channels); "
                f"got image {i} with {array.shape[2]} ({describe(items[i])}); convert it "
                "first, e.g. image.convert('RGB')"
            )
    return out


def image_processor_of(processor: Any, model_name: str) -> Any:
    """The image processor itself, from a processor (CLIP, LLaVA) or as given."""
    inner = getattr(processor, "image_processor", None)
    if inner is not None:
        return inner
    names = getattr(processor, "model_input_names", None) or ()
    if "pixel_values" in names and callable(processor):
        return processor
    raise ValueError(
        f"{model_name}: takes images through an image processor (e.g. ViTImageProcessor, or a "
        f"processor with .image_processor); got {type(processor).__name__} as the processor"
    )


def _run_processor(image_processor: Any, image: np.ndarray) -> Any:
    """One image through the processor: ``(1, C, H, W)`` float pixel values."""
    options: dict[str, Any] = {"return_tensors": "pt"}
    if image.dtype != np.uint8:
        options["do_rescale"] = False  # already in [0, 1]: rescaling would divide by 255 again
    values = image_processor(image, **options)["pixel_values"]
    return values


def display_image(image_processor: Any, pixel_values: Any, rescaled: bool) -> np.ndarray:
    """The processor's output ``(C, H, W)`` as the picture it is: uint8 ``(H, W, 3)``.

    Normalisation ``(x - mean) / std`` is undone, then the rescaling (``x ·
    rescale_factor`` for uint8 inputs, none for float inputs in [0, 1]).
    """
    array = np.asarray(pixel_values.detach().float().cpu().numpy(), dtype=np.float64)
    array = array.transpose(1, 2, 0)
    if getattr(image_processor, "do_normalize", False):
        mean = np.asarray(image_processor.image_mean, dtype=np.float64).reshape(1, 1, -1)
        std = np.asarray(image_processor.image_std, dtype=np.float64).reshape(1, 1, -1)
        array = array * std + mean
    if rescaled and getattr(image_processor, "do_rescale", False):
        array = array / float(image_processor.rescale_factor)
    else:
        array = array * 255.0
    picture = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if picture.shape[2] == 1:
        picture = np.repeat(picture, 3, axis=2)
    return picture


@dataclass(frozen=True)
class PatchGrid:
    """Rows x cols of patches, ``patch`` processed pixels each, over an ``height x width`` image."""

    rows: int
    cols: int
    patch: tuple[int, int]
    height: int
    width: int

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def labels(self) -> list[str]:
        return [patch_label(r, c) for r in range(self.rows) for c in range(self.cols)]

    def cell_of_pixel(self, y: int, x: int) -> tuple[int, int]:
        """The grid cell covering processed pixel ``(y, x)``."""
        return y // self.patch[0], x // self.patch[1]

    def json(self) -> dict[str, Any]:
        return {"rows": self.rows, "cols": self.cols, "patch": list(self.patch)}


def patch_label(row: int, col: int) -> str:
    return f"p({row},{col})"


def _patch_size(config: Any) -> tuple[int, int]:
    size = config.patch_size
    return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (size, size)


def _image_size(config: Any) -> tuple[int, int] | None:
    size = getattr(config, "image_size", None)
    if size is None:
        return None
    return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (size, size)


@dataclass
class Prepared:
    """Images ready for a vision tower: pixel values, the pictures, the grid."""

    pixel_values: Any  # (cases, C, H, W) float tensor
    pictures: list[np.ndarray]  # uint8 (H, W, 3) per case
    grid: PatchGrid


def prepare_images(
    images: Any,
    processor: Any,
    vision_config: Any,
    model_name: str,
    *,
    fixed_size: bool,
) -> Prepared:
    """Check and process every image; the grid the tower will see. Raises before any model runs.

    ``fixed_size``: the tower's position embeddings take only ``config.image_size``
    (ViT, DeiT, CLIP without interpolation); otherwise any multiple of the patch
    size works (DINOv2 interpolates).
    """
    import torch

    image_processor = image_processor_of(processor, model_name)
    channels = int(getattr(vision_config, "num_channels", 3))
    arrays = as_images(images, model_name, channels)
    values, pictures = [], []
    for array in arrays:
        pixel = _run_processor(image_processor, array)
        values.append(pixel)
        pictures.append(display_image(image_processor, pixel[0], array.dtype == np.uint8))
    sizes = sorted({tuple(v.shape[-2:]) for v in values})
    if len(sizes) != 1:
        raise ValueError(
            f"{model_name}: the processor gave images of different sizes {sizes}; one run "
            "needs one size (let the processor resize, or pass the images one at a time)"
        )
    height, width = (int(s) for s in sizes[0])
    ph, pw = _patch_size(vision_config)
    expected = _image_size(vision_config)
    if fixed_size and expected is not None and (height, width) != expected:
        raise ValueError(
            f"{model_name}: takes {expected[0]}x{expected[1]} pixel images (config.image_size); "
            f"the processor gave {height}x{width} (its size={getattr(image_processor, 'size', '?')}"
            f", do_resize={getattr(image_processor, 'do_resize', '?')})"
        )
    if height % ph or width % pw or height < ph or width < pw:
        raise ValueError(
            f"{model_name}: takes images whose sides are multiples of the {ph}x{pw} patch "
            f"(config.patch_size); the processor gave {height}x{width}, so the model would drop "
            "the pixels at the edge"
        )
    grid = PatchGrid(height // ph, width // pw, (ph, pw), height, width)
    return Prepared(torch.cat(values, dim=0), pictures, grid)


def image_media_meta(
    grid: PatchGrid,
    patches: Sequence[Sequence[int]],
    special: dict[str, int],
    *,
    query: Sequence[int | None],
    axes: Sequence[str] = ("query", "key"),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``meta["media"]`` of an image component (the fields are described in media.py)."""
    return {
        "kind": "image",
        "axes": list(axes),
        "size": [grid.height, grid.width],
        "grid": grid.json(),
        "patches": [list(map(int, p)) for p in patches],
        "first": [int(p[0]) for p in patches],
        "special": dict(special),
        "query": [None if q is None else int(q) for q in query],
        **(extra or {}),
    }
