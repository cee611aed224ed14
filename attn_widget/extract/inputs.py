"""Texts to model inputs: one batch, padded on the right, with per-case token lists.

Padding is done here rather than by the tokenizer: GPT-2-style tokenizers
have no pad token, and the padding side must be the right one whatever the
tokenizer says. With padding after the tokens, a case's positions are
``0 .. n-1`` as when the text runs alone (left padding would shift learned
positions), and a causal model never lets a real token see a pad, so each
case's attention equals the single-text result. Which positions are real is
known from the attention mask, never from a "[PAD]" string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .tokens import display_tokens, token_scheme

__all__ = ["Encoded", "as_texts", "encode"]


@dataclass
class Encoded:
    """Token ids of every case (unpadded) and their raw and display tokens."""

    ids: list[list[int]]
    raw: list[list[str]]
    tokens: list[list[str]]
    # Other per-token inputs the tokenizer gave (token_type_ids), unpadded.
    extra: dict[str, list[list[int]]] = field(default_factory=dict)

    @property
    def lengths(self) -> list[int]:
        return [len(i) for i in self.ids]

    def tensors(self, pad_id: int, device: Any) -> dict[str, Any]:
        """``input_ids``, ``attention_mask`` and extras as ``(cases, longest)`` tensors."""
        import torch

        longest = max(self.lengths)
        ids = torch.full((len(self.ids), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(self.ids), longest), dtype=torch.long)
        out: dict[str, Any] = {}
        for name, rows in self.extra.items():
            out[name] = torch.zeros((len(self.ids), longest), dtype=torch.long)
            for c, row in enumerate(rows):
                out[name][c, : len(row)] = torch.tensor(row, dtype=torch.long)
        for c, row in enumerate(self.ids):
            ids[c, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[c, : len(row)] = 1
        out["input_ids"], out["attention_mask"] = ids, mask
        return {k: v.to(device) for k, v in out.items()}


def as_texts(text: Any, what: str = "text") -> list[str]:
    """One string or a non-empty sequence of strings, as a list."""
    if isinstance(text, str):
        return [text]
    if isinstance(text, Sequence) and not isinstance(text, bytes):
        texts = list(text)
        if not texts:
            raise ValueError(f"{what}: expected a string or a non-empty list of strings, got []")
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"{what}: expected strings, got {bad[:3]}")
        return texts
    raise TypeError(f"{what}: expected a string or a list of strings, got {type(text).__name__}")


def _ids_of(tokenizer: Any, text: str, target: bool) -> dict[str, Any]:
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise TypeError(
            "tokenizer: expected a transformers tokenizer (callable, with convert_ids_to_tokens); "
            f"got {type(tokenizer).__name__}"
        )
    # text_target= picks the target-side vocabulary of tokenizers that have one (Marian).
    return dict(tokenizer(text_target=text) if target else tokenizer(text))


def _flat_ids(value: Any, what: str) -> list[int]:
    """Token ids as ints from a list, a tensor or a numpy array of shape (n,) or (1, n)."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
    if hasattr(value, "tolist"):  # torch or numpy
        value = value.tolist()
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"tokenizer: expected {what} as a list, tensor or array of ints, got "
            f"{type(value).__name__}"
        )
    if value and isinstance(value[0], list | tuple):
        if len(value) != 1:
            raise ValueError(
                f"tokenizer: expected the {what} of one text, shape (n,) or (1, n); got "
                f"{len(value)} rows"
            )
        value = value[0]
    return [int(t) for t in value]


def encode(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    vocab_size: int | None,
    accepted: set[str],
    target: bool = False,
    prefix_id: int | None = None,
    what: str = "text",
) -> Encoded:
    """Tokenize each text alone; check it gives tokens the model can embed.

    ``accepted`` names the per-token inputs the model's forward takes (extras
    such as ``token_type_ids`` are kept only then). ``prefix_id`` is put in
    front of every case (an encoder-decoder's decoder start token).
    """
    ids: list[list[int]] = []
    extra: dict[str, list[list[int]]] = {}
    for i, text in enumerate(texts):
        encoded = _ids_of(tokenizer, text, target)
        row = _flat_ids(encoded["input_ids"], "input_ids")
        if prefix_id is not None and (not row or row[0] != prefix_id):
            row = [prefix_id, *row]
        if not row:
            raise ValueError(
                f"{what}[{i}]: {text!r} tokenizes to no tokens; expected at least one token"
            )
        if vocab_size is not None and max(row) >= vocab_size:
            worst = max(row)
            raise ValueError(
                f"tokenizer: does not match the model: token id {worst} "
                f"({tokenizer.convert_ids_to_tokens([worst])[0]!r}) of {what}[{i}] is beyond "
                f"the model's {vocab_size} embeddings (the tokenizer has {len(tokenizer)} tokens)"
            )
        ids.append(row)
        if not target and prefix_id is None:
            for name in ("token_type_ids",):
                if name in encoded and name in accepted:
                    extra.setdefault(name, []).append(_flat_ids(encoded[name], name))
    raw = [list(tokenizer.convert_ids_to_tokens(row)) for row in ids]
    flat = [t for case in raw for t in case]
    scheme = token_scheme(tokenizer, flat)
    tokens = [display_tokens(case, tokenizer, scheme) for case in raw]
    return Encoded(ids=ids, raw=raw, tokens=tokens, extra=extra)
