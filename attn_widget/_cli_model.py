"""The command's model: a transformers checkpoint loaded by the class it names, quietly.

Errors are ValueErrors of one line, which the command prints with exit status 2.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["load_model", "model_class", "quiet_transformers"]


def load_model(name: str, device: str, quiet: bool = False) -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ValueError(
            f"--model needs torch and transformers: pip install 'attn-widget[torch]' ({error})"
        ) from error
    try:
        torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"--device: {error}") from error
    try:
        with quiet_transformers(quiet):
            tokenizer = transformers.AutoTokenizer.from_pretrained(name)
            model = model_class(name).from_pretrained(name)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"--model: cannot load {name!r}: {first}") from error
    return model.to(device).eval(), tokenizer


def model_class(name: str) -> Any:
    """The class the checkpoint names (its config's ``architectures``), else AutoModel.

    Loading a GPT-2 LM checkpoint into AutoModel would drop its head and make
    transformers report the unused weights; the named class loads every weight.
    """
    import transformers

    try:
        names = transformers.AutoConfig.from_pretrained(name).architectures or []
    except (OSError, ValueError):
        names = []
    for arch in names:
        found = getattr(transformers, str(arch), None)
        if found is not None and hasattr(found, "from_pretrained"):
            return found
    return transformers.AutoModel


@contextlib.contextmanager
def quiet_transformers(quiet: bool) -> Iterator[None]:
    """With ``quiet``: no "Loading weights" bar and no load report from transformers."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
