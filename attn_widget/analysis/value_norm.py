"""Value-norm weighting (Kobayashi et al. 2020): ‖αᵢⱼ · f(xⱼ)‖ instead of αᵢⱼ alone.

A head's output at position ``i`` is ``Σⱼ αᵢⱼ f(xⱼ)`` with
``f(xⱼ) = vⱼ W_Oʰ``: the key token's value vector (after the value
projection and its bias) times that head's slice of the output projection.
A large weight on a vector of small norm moves little; the norm of each
term, ``αᵢⱼ ‖f(xⱼ)‖``, says what actually reaches position ``i``. Summed over
heads (``combine=True``) it is the layer's ``‖Σₕ αʰᵢⱼ fʰ(xⱼ)‖``. The output
projection's bias does not depend on ``j`` and is left out, as in the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import as_finite

__all__ = ["head_value_norms", "value_weighted"]

# Row blocks of the combined norm keep (rows, k, heads) temporaries under ~32 MB.
_BLOCK_VALUES = 1 << 22


def head_value_norms(values: Any, out_proj: Any, n_heads: int | None = None) -> np.ndarray:
    """``‖vʰⱼ W_Oʰ‖`` per head and key: ``(heads, k)`` float64.

    ``values``: ``(kv_heads, k, d_head)``, the value vectors the layer's
    attention read (grouped-query models share each among ``heads / kv_heads``
    query heads); ``out_proj``: ``(heads · d_head, d_model)``, the output
    projection as applied to the concatenated head outputs (``z @ out_proj``;
    a ``torch.nn.Linear``'s ``weight.T``), head ``h`` in rows
    ``h·d_head .. (h+1)·d_head``.
    """
    return _per_head_vectors(values, out_proj, n_heads, norms_only=True)


def _per_head_vectors(
    values: Any, out_proj: Any, n_heads: int | None, *, norms_only: bool
) -> np.ndarray:
    v = as_finite(values, "values", ndim=3, layout="(kv_heads, k, d_head)").astype(np.float64)
    w = as_finite(out_proj, "out_proj", ndim=2, layout="(heads * d_head, d_model)").astype(
        np.float64
    )
    kv_heads, _, d_head = v.shape
    heads = n_heads if n_heads is not None else w.shape[0] // d_head
    if heads < 1 or w.shape[0] != heads * d_head:
        raise ValueError(
            f"out_proj: expected {heads} heads x {d_head} (d_head of values) = "
            f"{heads * d_head} rows (heads * d_head, d_model), got shape {w.shape}"
        )
    if heads % kv_heads:
        raise ValueError(
            f"values: {kv_heads} value heads do not divide {heads} attention heads "
            "(grouped-query attention shares each value head among a whole group)"
        )
    group = heads // kv_heads
    slices = w.reshape(heads, d_head, w.shape[1])
    # f[h, j] = v[h // group, j] @ W_O^h : (heads, k, d_model)
    vectors = np.stack([v[h // group] @ slices[h] for h in range(heads)])
    return np.linalg.norm(vectors, axis=2) if norms_only else vectors


def value_weighted(
    weights: Any, values: Any, out_proj: Any, *, combine: bool = False
) -> np.ndarray:
    """``αʰᵢⱼ ‖fʰ(xⱼ)‖`` as ``(heads, q, k)``; with ``combine`` ``‖Σₕ αʰᵢⱼ fʰ(xⱼ)‖`` as ``(q, k)``.

    ``weights``: one layer's ``(heads, q, k)`` attention; ``values`` and
    ``out_proj`` as in :func:`head_value_norms`. float64.
    """
    alpha = as_finite(weights, "weights", ndim=3, layout="(heads, q, k)").astype(np.float64)
    heads, q, k = alpha.shape
    v = np.asarray(values)
    if v.ndim == 3 and v.shape[1] != k:
        raise ValueError(
            f"values: expected {k} value vectors (one per key of the weights), got shape "
            f"{tuple(v.shape)} (kv_heads, k, d_head)"
        )
    vectors = _per_head_vectors(values, out_proj, heads, norms_only=False)
    if not combine:
        return alpha * np.linalg.norm(vectors, axis=2)[:, None, :]
    # ‖Σₕ aₕ fₕ‖² = aᵀ G a with G[j] = the heads' Gram matrix of key j: heads² per
    # cell instead of heads · d_model.
    gram = np.einsum("hkd,gkd->khg", vectors, vectors)
    out = np.empty((q, k))
    step = max(1, _BLOCK_VALUES // max(1, k * heads))
    for r0 in range(0, q, step):
        a = alpha[:, r0 : r0 + step].transpose(1, 2, 0)  # (rows, k, heads)
        squared = np.einsum("rkh,khg,rkg->rk", a, gram, a, optimize=True)
        out[r0 : r0 + step] = np.sqrt(np.maximum(squared, 0.0))
    return out
