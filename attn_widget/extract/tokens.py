"""Display tokens: tokenizer markers (``Ġ``, ``▁``, ``##``) turned into readable text.

Tokenizers mark word boundaries in their own ways: GPT-2's byte-level BPE maps
every byte to a printable character (a space becomes ``Ġ``, a newline ``Ċ``),
SentencePiece writes a leading space as ``▁``, WordPiece writes a word piece as
``##piece``. Labels show the text instead, with one visible mark where the
marker carried meaning: :data:`SPACE_MARK` for a leading space and
:data:`PIECE_MARK` for a word piece. The raw tokens are kept by the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["PIECE_MARK", "SPACE_MARK", "display_tokens", "token_scheme"]

# U+2423 OPEN BOX, the usual picture of a space; both glyphs are in DejaVu Sans
# (matplotlib's PDF font) and in every browser's default fonts.
SPACE_MARK = "␣"
PIECE_MARK = "·"
_WHITESPACE = {"\n": "↵", "\t": "⇥", "\r": "␍"}
_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-to-character table, reversed: printable character -> byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def token_scheme(tokenizer: Any, tokens: Iterable[str] = ()) -> str:
    """``"byte_level"``, ``"metaspace"``, ``"wordpiece"`` or ``"plain"``.

    Read from the fast tokenizer's decoder when there is one (exact); otherwise
    guessed from the markers in ``tokens``.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        try:
            decoder = json.dumps(json.loads(backend.to_str()).get("decoder"))
        except (ValueError, TypeError):
            decoder = ""
        if "ByteLevel" in decoder:
            return "byte_level"
        if "WordPiece" in decoder:
            return "wordpiece"
        if "Metaspace" in decoder or "▁" in decoder:
            return "metaspace"
    seen = list(tokens)
    if any(t.startswith("Ġ") or t.startswith("Ċ") for t in seen):
        return "byte_level"
    if any(t.startswith("▁") for t in seen):
        return "metaspace"
    if any(t.startswith("##") and len(t) > 2 for t in seen):
        return "wordpiece"
    return "plain"


def _visible(text: str) -> str:
    """Leading spaces become :data:`SPACE_MARK`; newline and tab get a picture."""
    stripped = text.lstrip(" ")
    lead = len(text) - len(stripped)
    if lead:
        # One mark says "a word starts here"; a run of spaces keeps its count.
        text = SPACE_MARK * lead + stripped
    for char, picture in _WHITESPACE.items():
        text = text.replace(char, picture)
    return text


def _from_bytes(token: str) -> str | None:
    table = _byte_decoder()
    if not all(c in table for c in token):
        return None
    # A character split over two tokens leaves partial UTF-8: show its bytes.
    return bytes(table[c] for c in token).decode("utf-8", errors="backslashreplace")


def _one(token: str, scheme: str) -> str:
    if scheme == "byte_level":
        decoded = _from_bytes(token)
        return _visible(decoded if decoded is not None else token)
    if scheme == "metaspace":
        byte = _BYTE_TOKEN.match(token)
        if byte:
            return _visible(chr(int(byte.group(1), 16)))
        return _visible(token.replace("▁", " "))
    if scheme == "wordpiece" and token.startswith("##") and len(token) > 2:
        return PIECE_MARK + _visible(token[2:])
    return _visible(token)


def display_tokens(
    raw: Sequence[str], tokenizer: Any = None, scheme: str | None = None
) -> list[str]:
    """Readable labels for ``raw`` tokens; special tokens (``[CLS]``, ``</s>``) stay as they are."""
    if isinstance(raw, str):
        raise TypeError(f"raw: expected a list of token strings, got a string {raw[:40]!r}")
    tokens = [str(t) for t in raw]
    scheme = scheme or token_scheme(tokenizer, tokens)
    special = set(getattr(tokenizer, "all_special_tokens", None) or ())
    return [t if t in special else _one(t, scheme) for t in tokens]
