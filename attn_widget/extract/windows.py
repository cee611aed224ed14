"""Swin: windowed attention put back on the full patch grid, one component per stage.

Swin attends inside ``ws x ws`` windows: each call of the attention function
gets ``(B·nW, heads, ws², ws²)`` queries and keys. Here every block's windows
become one ``(heads, N, N)`` matrix over all ``N = h·w`` patches of its stage
(zeros outside a window), so the view and the exports read it like any other
attention. The mapping, checked against the library's own ``window_partition``
and ``cyclic_shift`` (MULTIMODAL-NOTES): window row ``n`` is case ``n // nW``,
window ``w = n % nW`` at ``(wr, wc) = divmod(w, W/ws)``; its token ``t`` at
``(tr, tc) = divmod(t, ws)`` is grid cell ``((wr·ws + tr + s) % H, (wc·ws + tc + s) % W)``
where ``s`` is the block's shift (the grid is rolled by ``-s`` before it is cut).

Stages have different grids (16x16, 8x8, 4x4, ...), so each stage is its own
component, ``"stage 0"``, ``"stage 1"``, ...: its layers are the stage's blocks
(unshifted and shifted alternating), its tokens ``p(row,col)`` of that stage's
grid, whose cells are ``patch·2^k`` processed pixels wide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..media import Media
from .images import PatchGrid, image_media_meta, prepare_images
from .media_capture import capture_once, model_name, storage_dtype, with_media

__all__ = ["extract_swin", "stage_name", "window_positions"]


def stage_name(stage: int) -> str:
    return f"stage {stage}"


def window_positions(rows: int, cols: int, size: int, shift: int) -> np.ndarray:
    """``(windows, size²)``: the flat grid position (``r·cols + c``) of each window's tokens."""
    wr, wc, tr, tc = np.meshgrid(
        np.arange(rows // size),
        np.arange(cols // size),
        np.arange(size),
        np.arange(size),
        indexing="ij",
    )
    r = (wr * size + tr + shift) % rows
    c = (wc * size + tc + shift) % cols
    return (r * cols + c).reshape((rows // size) * (cols // size), size * size)


@dataclass
class _Stage:
    grid: PatchGrid
    blocks: list[Any]  # the stage's SwinLayer modules
    heads: int
    arrays: list[np.ndarray] = field(default_factory=list)  # per case (blocks, heads, N, N)
    windows: list[tuple[int, int]] = field(default_factory=list)  # per block seen: (size, shift)


class WindowRecorder:
    """The capture function's body for Swin: window weights into full per-stage matrices."""

    def __init__(self, stages: list[_Stage], cases: int, dtype: np.dtype) -> None:
        self.stages = stages
        self.cases = cases
        self.dtype = np.dtype(dtype)
        self.where: dict[int, tuple[int, int]] = {}
        for s, stage in enumerate(stages):
            for b, block in enumerate(stage.blocks):
                self.where[id(block.attention)] = (s, b)
        self.calls = 0

    @property
    def empty(self) -> bool:
        return self.calls == 0

    def attend(
        self,
        module: Any,
        query: Any,
        key: Any,
        value: Any,
        attention_mask: Any,
        **kwargs: Any,
    ) -> tuple[Any, None]:
        import torch
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        from .weights import attention_weights, scaling_of

        if id(module) not in self.where:
            raise ValueError(
                f"{type(module).__name__} is not an attention block of this Swin model"
            )
        self.calls += 1
        s, b = self.where[id(module)]
        stage = self.stages[s]
        block = stage.blocks[b]
        # The layer sets (and clamps) its window and shift just before it attends.
        size, shift = int(block.window_size), int(block.shift_size)
        rows, cols = stage.grid.rows, stage.grid.cols
        n_windows = (rows // size) * (cols // size)
        windows, heads, tokens, _ = query.shape
        if tokens != size * size or windows != self.cases * n_windows:
            raise ValueError(
                f"{stage_name(s)} block {b}: the model attends in {windows} windows of {tokens} "
                f"tokens; expected {self.cases} x {n_windows} windows of {size}x{size} on the "
                f"{rows}x{cols} grid"
            )
        if b != len(stage.windows):
            raise ValueError(f"{stage_name(s)}: block {b} ran out of order")
        stage.windows.append((size, shift))
        if not stage.arrays:
            n = rows * cols
            stage.arrays = [
                np.zeros((len(stage.blocks), heads, n, n), dtype=self.dtype)
                for _ in range(self.cases)
            ]
        weights = attention_weights(
            query, key, scaling=scaling_of(query, kwargs), additive=attention_mask
        )
        place = torch.from_numpy(window_positions(rows, cols, size, shift)).to(weights.device)
        n = rows * cols
        # Every (query, key) pair of a window lands on its own cell of the N x N matrix.
        flat = (place[:, :, None] * n + place[:, None, :]).reshape(-1)
        store = torch.float16 if self.dtype == np.float16 else torch.float32
        for c in range(self.cases):
            part = weights[c * n_windows : (c + 1) * n_windows]  # (nW, heads, t, t)
            values = part.permute(1, 0, 2, 3).reshape(heads, -1).to(store).cpu()
            target = torch.from_numpy(stage.arrays[c][b]).view(heads, n * n)
            target[:, flat.cpu()] = values
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    def blocked(self, s: int) -> Any:
        """layer -> ``(N, N)`` True where two patches are in different windows of that block."""
        stage = self.stages[s]

        def outside(layer: int) -> np.ndarray:
            size, shift = stage.windows[layer]
            place = window_positions(stage.grid.rows, stage.grid.cols, size, shift)
            window = np.empty(stage.grid.count, dtype=np.int64)
            window[place.reshape(-1)] = np.repeat(np.arange(place.shape[0]), place.shape[1])
            return window[:, None] != window[None, :]

        return outside


def _stage_grids(first: PatchGrid, depths: int) -> list[PatchGrid]:
    grids = [first]
    for k in range(1, depths):
        prev = grids[-1]
        grids.append(
            PatchGrid(
                (prev.rows + 1) // 2,
                (prev.cols + 1) // 2,
                (first.patch[0] * 2**k, first.patch[1] * 2**k),
                first.height,
                first.width,
            )
        )
    return grids


def _check_windows(name: str, grids: list[PatchGrid], window: int) -> None:
    """Refuse grids the windows do not tile: Swin pads them with unmasked zero tokens."""
    for k, grid in enumerate(grids):
        smallest = min(grid.rows, grid.cols)
        if smallest < window:
            raise ValueError(
                f"{name}: stage {k} would have a {grid.rows}x{grid.cols} grid, smaller than "
                f"config.window_size={window}, which the model cannot run (its position bias is "
                f"sized for the window); give images of at least "
                f"{window * grid.patch[0]}x{window * grid.patch[1]} processed pixels"
            )
        size = smallest if smallest <= window else window
        if grid.rows % size or grid.cols % size:
            raise ValueError(
                f"{name}: stage {k} has a {grid.rows}x{grid.cols} grid that {size}x{size} windows "
                "do not tile; the model would attend to padding tokens that are no patch. Give "
                f"images whose patch grid is a multiple of {size} at every stage"
            )


def extract_swin(
    model: Any, processor: Any, images: Any, *, dtype: Any = "float32", lazy: bool = False
) -> dict[str, Any]:
    """Per stage, every block's windowed attention as full matrices over the stage's patches."""
    from ..data import AttentionData

    name = type(model).__name__
    if lazy:
        raise ValueError(
            f"lazy=True: {name} attends in windows, which queries and keys alone do not "
            "describe; use lazy=False (dtype='float16' halves the memory)"
        )
    storage = storage_dtype(dtype)
    config = model.config
    fixed = bool(getattr(config, "use_absolute_embeddings", False))
    prepared = prepare_images(images, processor, config, name, fixed_size=fixed)
    depths = list(config.depths)
    grids = _stage_grids(prepared.grid, len(depths))
    _check_windows(name, grids, int(config.window_size))
    base = getattr(model, "base_model", model)
    stages = [
        _Stage(grid, list(stage.blocks), int(config.num_heads[k]))
        for k, (grid, stage) in enumerate(zip(grids, base.encoder.layers, strict=True))
    ]
    cases = len(prepared.pictures)
    recorder = WindowRecorder(stages, cases, storage)
    parameter = next(model.parameters())
    pixels = prepared.pixel_values.to(device=parameter.device, dtype=parameter.dtype)
    capture_once(model, recorder, lambda: base(pixel_values=pixels))
    sources: dict[str, Any] = {}
    media: dict[str, tuple[dict[str, Any], Media]] = {}
    blocked = {}
    pictures = Media(images=list(prepared.pictures))
    for k, stage in enumerate(stages):
        key = stage_name(k)
        if len(stage.windows) != len(stage.blocks):
            raise ValueError(
                f"{key}: {len(stage.windows)} of its {len(stage.blocks)} blocks called the "
                "attention function"
            )
        tokens = stage.grid.labels()
        meta = {
            "model": model_name(model),
            "source": "transformers",
            "input": "image",
            "component": key,
        }
        sources[key] = AttentionData.from_cases(
            stage.arrays, [tokens] * cases, dtype=storage, meta=meta
        )
        windows = {
            "size": stage.windows[0][0],
            "shifts": [shift for _, shift in stage.windows],
        }
        extra = {"stage": k, "windows": windows}
        patches = [list(range(stage.grid.count))] * cases
        media[key] = (
            image_media_meta(stage.grid, patches, {}, query=[None] * cases, extra=extra),
            pictures,
        )
        blocked[key] = recorder.blocked(k)
    causal = dict.fromkeys(sources, False)
    return with_media(sources, causal=causal, media=media, blocked=blocked)
