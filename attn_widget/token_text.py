"""Display text for any token string: a visible stand-in for what a font or an encoder cannot take.

A tokenizer can produce any string: a byte-order mark, a lone UTF-16
surrogate (a character split between two tokens), NUL and other controls,
direction overrides that would reverse the neighbouring labels, private-use
characters no font draws. Shown as they are, some crash matplotlib (U+FEFF,
surrogates), some cannot be encoded as UTF-8 for the browser or a JSON file
(surrogates), and the rest are invisible or change the text around them. The
label shows a visible stand-in instead; the original stays in ``raw_tokens``.

:func:`visible_text` is the one mapping, used by :class:`~attn_widget.data.
AttentionData` for its display tokens and by the exported figures. The rules
(the JavaScript view's ``visibleToken`` follows the same):

1. A high surrogate followed by a low surrogate is the character they encode
   (text read as UTF-16 code units); a lone surrogate is ``⟨U+D800⟩``.
2. C0 controls U+0000..U+001F become their control pictures ``␀``..``␟``
   (U+2400 + code); DEL U+007F becomes ``␡``.
3. C1 controls U+0080..U+009F, format characters (general category ``Cf``:
   U+FEFF, bidi marks, embeddings, overrides and isolates, soft hyphen, word
   joiner, tag characters, ...), the line and paragraph separators
   U+2028/U+2029, private-use characters (``Co``) and noncharacters
   (U+FDD0..U+FDEF and every U+xxFFFE/U+xxFFFF) become ``⟨U+XXXX⟩``: the code
   point in upper-case hex, at least four digits.
4. Exception to 3: ZERO WIDTH JOINER U+200D and ZERO WIDTH NON-JOINER U+200C
   stay when the characters on both sides of them stay as they are (they join
   emoji sequences such as 👨‍👩‍👧 and shape Persian or Indic words); anywhere else
   (alone, at an end, beside another joiner or a stand-in) they get a stand-in.
5. A token that starts with a combining mark (general category ``M*``) gets
   U+25CC DOTTED CIRCLE before it, so the mark has something to sit on.

Everything else is kept: letters of every script, emoji, spaces, combining
marks after a base, unassigned code points (which one is unassigned depends
on the Unicode version, and Python's and the browser's differ). The empty
token is kept here; a label shows it as ``∅``. The mapping is idempotent:
a stand-in maps to itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["DOTTED_CIRCLE", "code_point", "display_lists", "visible_text"]

DOTTED_CIRCLE = "\u25cc"
_JOINERS = frozenset("\u200c\u200d")
_SEPARATORS = frozenset("\u2028\u2029")


def code_point(char: str) -> str:
    """The stand-in of one character: ``⟨U+FEFF⟩``."""
    return f"⟨U+{ord(char):04X}⟩"


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _stand_in(char: str) -> str | None:
    """The replacement of ``char`` by rules 2 and 3, or None when it is kept."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0xD800 <= code <= 0xDFFF or char in _SEPARATORS or _is_noncharacter(code):
        return code_point(char)
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Co") and char not in _JOINERS:
        return code_point(char)
    return None


def _join_surrogates(text: str) -> str:
    """Rule 1: pairs of UTF-16 surrogates become the character they encode; lone ones stay."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def visible_text(token: str) -> str:
    """``token`` with every character a font or an encoder cannot take made visible (see above)."""
    if token.isprintable():
        # The common case, at C speed: no control, format, private-use,
        # surrogate, separator or unassigned character at all.
        if token and unicodedata.category(token[0]).startswith("M"):
            return DOTTED_CIRCLE + token
        return token
    if any("\ud800" <= c <= "\udfff" for c in token):
        token = _join_surrogates(token)
    chars = list(token)
    replaced = [_stand_in(c) for c in chars]
    out: list[str] = []
    for i, char in enumerate(chars):
        stand_in = replaced[i]
        if stand_in is None and char in _JOINERS:
            # Rule 4: a joiner stays only between two characters that stay.
            inside = 0 < i < len(chars) - 1
            kept = (
                inside
                and replaced[i - 1] is None
                and replaced[i + 1] is None
                and chars[i - 1] not in _JOINERS
                and chars[i + 1] not in _JOINERS
            )
            stand_in = None if kept else code_point(char)
        out.append(char if stand_in is None else stand_in)
    text = "".join(out)
    if text and unicodedata.category(text[0]).startswith("M"):
        text = DOTTED_CIRCLE + text
    return text


def display_lists(lists: Sequence[Sequence[str]]) -> tuple[list[list[str]], bool]:
    """Every token of every list through :func:`visible_text`; True when any changed."""
    shown = [[visible_text(t) for t in tokens] for tokens in lists]
    changed = any(
        a != b for old, new in zip(lists, shown, strict=True) for a, b in zip(old, new, strict=True)
    )
    return shown, changed
