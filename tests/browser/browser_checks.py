"""Pixel and colour checks shared by the browser tests."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_IMG = ROOT / "docs" / "img"

# Colours of the view (light theme) the tests look for.
VIRIDIS_LOW = (68, 1, 84)
VIRIDIS_HIGH = (253, 231, 37)
HIGHLIGHT_LIGHT = (216, 67, 21)  # #d84315
LINE_LIGHT = (31, 95, 174)  # #1f5fae


def save_screenshot(png: bytes, name: str) -> pathlib.Path:
    """Keep a screenshot in test-artifacts/; with AW_UPDATE_SCREENSHOTS=1 also in docs/img/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(png)
    if os.environ.get("AW_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        (DOCS_IMG / name).write_bytes(png)
    return path


def near(a: tuple[int, ...], b: tuple[int, ...], tol: float = 12) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a[:3], b[:3], strict=True))


def stands_out(a: tuple[int, ...], background: tuple[int, ...], threshold: int = 24) -> bool:
    """Whether a pixel differs visibly from the background (sum of channel differences)."""
    return sum(abs(int(x) - int(y)) for x, y in zip(a[:3], background[:3], strict=True)) > threshold


def luminance(rgb: tuple[int, ...]) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def is_dark(rgb: tuple[int, ...]) -> bool:
    return luminance(rgb) < 0.3


def viridis(t: float) -> tuple[int, int, int]:
    """matplotlib's viridis at t in [0, 1]: the oracle for the heatmap colours."""
    from matplotlib import colormaps

    r, g, b, _ = colormaps["viridis"](float(t))
    return round(r * 255), round(g * 255), round(b * 255)


def pattern_of(
    colours: list[list[tuple[int, int, int]]], bright: Callable[[tuple[int, int, int]], bool]
) -> set[tuple[int, int]]:
    """The (q, k) cells whose colour passes `bright`."""
    return {(q, k) for q, row in enumerate(colours) for k, c in enumerate(row) if bright(c)}


# A notebook cell that builds widgets from a known pattern, 8 tokens, 2 layers × 2 heads:
#   layer 0 head 0: one-hot diagonal        layer 1 head 0: one-hot previous token
#   layer 0 head 1: causal uniform (1/(q+1)) layer 1 head 1: everything on the first token
# Token 3 is an HTML injection attempt; it must show as text and run nothing.
XSS_TOKEN = '<img src=x onerror="window.__xss=1">'
PATTERN_SETUP = f"""
import numpy as np
import attn_widget as aw

n = 8
A = np.zeros((2, 2, n, n), np.float32)
A[0, 0] = np.eye(n)
A[1, 0, 0, 0] = 1
A[1, 0, np.arange(1, n), np.arange(n - 1)] = 1
A[0, 1] = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
A[1, 1, :, 0] = 1
tokens = ["<s>", "The", "cat", {XSS_TOKEN!r}, "on", "the", "mat", "."]
w = aw.AttentionWidget(A, tokens)
"""
DIAGONAL = {(i, i) for i in range(8)}
PREVIOUS = {(0, 0)} | {(i, i - 1) for i in range(1, 8)}
FIRST = {(i, 0) for i in range(8)}
CAUSAL = {(q, k) for q in range(8) for k in range(q + 1)}

# A made-up but plausible attention for the README pictures.
DEMO_SETUP = """
rng = np.random.default_rng(7)
demo_tokens = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "because",
               "it", "was", "tired", ".", "[SEP]"]
m = len(demo_tokens)
q_idx, k_idx = np.indices((m, m))
logits = np.zeros((4, 4, m, m))
logits[:, 0] = np.where(k_idx == q_idx - 1, 4.0, 0.0)
logits[:, 1] = np.where((k_idx == 0) | (k_idx == m - 1), 3.0, 0.0)
logits[:, 1] += np.where(k_idx == q_idx, 1.5, 0.0)
logits[:, 2] = -0.5 * (k_idx - q_idx) ** 2 / 2.0
for q, k, s in [(8, 2, 5.0), (10, 2, 3.5), (3, 2, 3.0), (6, 4, 3.0), (10, 8, 2.5), (9, 8, 2.0)]:
    logits[:, 3, q, k] = s
logits += rng.normal(0, 0.6, logits.shape) * np.linspace(0.3, 1.2, 4)[:, None, None, None]
demo_att = np.exp(logits - logits.max(-1, keepdims=True))
demo_att /= demo_att.sum(-1, keepdims=True)
demo = aw.AttentionWidget(demo_att.astype(np.float32), demo_tokens, layer=2, head=3)
"""
