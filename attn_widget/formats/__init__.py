"""File formats that :func:`attn_widget.io.read` reads, each checked field by field.

* :mod:`.npz` — attn_widget's own ``.npz`` (sizes checked from the headers first);
* :mod:`.json_layouts` — EnsembleModel's and similar JSON, and ``to_json``'s;
* :mod:`.torch_file` — Attention-Viewer's ``.pt`` (``weights_only=True`` only);
* :mod:`.padding` — padding found by mask, by weight or by the pad token's name;
* :mod:`.checks` — the one error every damaged or crafted file gives.
"""

from __future__ import annotations

from .checks import FileError

__all__ = ["FileError"]
