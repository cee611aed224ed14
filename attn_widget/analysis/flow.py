"""Attention flow (Abnar & Zuidema 2020): the maximum flow from each input token to each position.

The layers form a graph: one node per position before layer 0 (the input
tokens) and after every layer; position ``i`` after layer ``m`` is joined to
position ``j`` before it by an edge of capacity ``Ã_m[i, j]``, the layer's
fused, residual-mixed weights (the same ``Ã`` as rollout's, see
:func:`~attn_widget.analysis.rollout.mix_residual`). The flow up to layer
``l`` from input ``j`` to position ``i`` is the value of a maximum flow from
node ``i`` after layer ``l`` to input node ``j``, solved by
``scipy.sparse.csgraph.maximum_flow`` (Dinic's algorithm).

scipy's solver takes integer capacities: they are the weights times 2**30
rounded, so a flow is exact to about 1e-9 per edge of its minimum cut.
One maximum flow per (position, input) pair on a graph of ``layers · n²``
edges grows as ``n⁴``: above an estimated :data:`MAX_SECONDS` the
computation is refused, with the sizes in the message.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import as_finite
from .rollout import check_mixing, fuse_heads, mix_residual

__all__ = ["MAX_SECONDS", "attention_flow", "check_flow_size", "flow_of_mixed"]

MAX_SECONDS = 5.0
# Measured on this project's 2-core CPU (scipy 1.17, Dinic): the cost of one
# maximum_flow call is about this much per call plus this much per edge.
_SECONDS_PER_FLOW = 5e-4
_SECONDS_PER_EDGE = 4e-8
_SCALE = float(1 << 30)


def _estimate(n: int, layers: list[int]) -> tuple[int, int, float]:
    """Max-flow problems, edges of the largest graph and estimated seconds for these layers."""
    flows = n * n * len(layers)
    edges = (max(layers) + 1) * n * n
    seconds = sum(
        n * n * (_SECONDS_PER_FLOW + _SECONDS_PER_EDGE * (layer + 1) * n * n) for layer in layers
    )
    return flows, edges, seconds


def _largest_n(layers: list[int], max_seconds: float) -> int:
    n = 1
    while _estimate(n + 1, layers)[2] <= max_seconds:
        n += 1
    return n


def check_flow_size(n: int, layers: list[int], max_seconds: float = MAX_SECONDS) -> None:
    """Refuse flows whose estimated time is above ``max_seconds``; the message gives the sizes."""
    if not (isinstance(max_seconds, (int, float)) and max_seconds > 0):
        raise ValueError(f"max_seconds: expected a number > 0, got {max_seconds!r}")
    flows, edges, seconds = _estimate(n, layers)
    if seconds <= max_seconds:
        return
    span = f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}..{layers[-1]}"
    raise ValueError(
        f"flow: {n} tokens up to {span} need {flows:,} maximum-flow problems on graphs of up "
        f"to {edges:,} edges, about {math.ceil(seconds)} s here (max_seconds={max_seconds:g}); "
        f"at most {_largest_n(layers, max_seconds)} tokens fit for {span}. Ask for one layer "
        "(layer=...), a shorter input, a larger max_seconds, or use rollout"
    )


def _graph(mixed: np.ndarray, layer: int) -> Any:
    """CSR capacities of the graph up to ``layer``; node ``m·n + i``: position i before layer m."""
    from scipy.sparse import csr_array

    n = mixed.shape[1]
    rows, cols, caps = [], [], []
    for m in range(layer + 1):
        capacity = np.rint(mixed[m] * _SCALE).astype(np.int64)
        i, j = np.nonzero(capacity)
        rows.append((m + 1) * n + i)
        cols.append(m * n + j)
        caps.append(capacity[i, j])
    size = (layer + 2) * n
    graph = csr_array(
        (np.concatenate(caps).astype(np.int32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(size, size),
    )
    graph.sort_indices()
    return graph


def flow_of_mixed(mixed: np.ndarray, layer: int) -> np.ndarray:
    """The ``(n, n)`` flow up to ``layer`` of ``(layers, n, n)`` residual-mixed matrices."""
    try:
        from scipy.sparse.csgraph import maximum_flow
    except ImportError as error:
        raise ImportError(
            "attention flow needs scipy: pip install 'attn-widget[flow]' (or scipy)"
        ) from error
    n = mixed.shape[1]
    graph = _graph(mixed, layer)
    top = (layer + 1) * n
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = maximum_flow(graph, top + i, j).flow_value / _SCALE
    return out


def attention_flow(
    attentions: Any,
    *,
    layer: int | None = None,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
    max_seconds: float = MAX_SECONDS,
) -> np.ndarray:
    """Flow of ``(layers, heads, n, n)`` weights: ``(layers, n, n)`` (``(n, n)`` for one layer).

    ``flow[l][i, j]`` is the maximum flow from position ``i`` after layer
    ``l`` to input token ``j`` (see the module's docstring for the graph);
    ``head_fusion``, ``residual`` and ``discard_ratio`` make the capacities as
    for rollout. Refused (a ValueError with the sizes) when the estimated time
    is over ``max_seconds``.
    """
    check_mixing(head_fusion, residual, discard_ratio)
    array = as_finite(attentions, "attentions", ndim=4, layout="(layers, heads, n, n)")
    if (array < 0).any():
        raise ValueError("attentions: expected non-negative weights, got negative values")
    n_layers, _, q, k = array.shape
    if q != k:
        raise ValueError(f"attentions: flow needs self-attention (q == k), got {q} x {k}")
    if layer is not None and (
        isinstance(layer, bool)
        or not isinstance(layer, (int, np.integer))
        or not 0 <= layer < n_layers
    ):
        raise ValueError(f"layer: expected 0..{n_layers - 1}, got {layer!r}")
    layers = list(range(n_layers)) if layer is None else [int(layer)]
    check_flow_size(q, layers, max_seconds)
    mixed = np.stack(
        [
            mix_residual(fuse_heads(array[m], head_fusion), residual, discard_ratio, layer=m)
            for m in range(max(layers) + 1)
        ]
    )
    flows = np.stack([flow_of_mixed(mixed, m) for m in layers])
    return flows[0] if layer is not None else flows
