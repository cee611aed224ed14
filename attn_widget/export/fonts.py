"""Fonts of the exported figures: DejaVu Sans, then installed fonts for the glyphs it lacks.

matplotlib (3.6 and later) draws each glyph with the first family of
``font.family`` that has it, in PDF, SVG and PNG alike, so CJK tokens come
out in Noto Sans CJK and emoji in Symbola when those are installed
(``scripts/setup`` installs Debian's ``fonts-noto-cjk`` and ``fonts-symbola``;
colour emoji fonts such as Noto Color Emoji are bitmaps, which matplotlib
cannot draw). Only installed families go in the list: a missing family would
make matplotlib log a warning on every figure.

Fonts installed after matplotlib built its font cache are not in that cache;
they are found on disk by name and added, once per process.

A glyph that no installed font has is drawn as an empty box, but the text
layer of PDF and SVG still holds the character. :func:`check_glyphs` warns
once per missing script, naming the package to install.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import unicodedata
import warnings
from collections.abc import Iterable

__all__ = ["FALLBACKS", "PRIMARY", "check_glyphs", "families", "missing_glyphs"]

PRIMARY = "DejaVu Sans"
# (family, file name pattern, Debian package): tried in this order after DejaVu Sans.
FALLBACKS: tuple[tuple[str, str, str], ...] = (
    ("Noto Sans CJK JP", "NotoSansCJK-*.ttc", "fonts-noto-cjk"),
    ("Symbola", "Symbola*.ttf", "fonts-symbola"),
    ("Noto Sans Devanagari", "NotoSansDevanagari-*.ttf", "fonts-noto-core"),
    ("Noto Sans Bengali", "NotoSansBengali-*.ttf", "fonts-noto-core"),
    ("Noto Sans Tamil", "NotoSansTamil-*.ttf", "fonts-noto-core"),
    ("Noto Sans Thai", "NotoSansThai-*.ttf", "fonts-noto-core"),
)
_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.local/share/fonts"),
    os.path.expanduser("~/.fonts"),
)
# Not drawn as glyphs: spaces, format characters (ZWJ, direction marks) and
# variation selectors; the labels show control characters as symbols already.
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}
_warned: set[str] = set()


class _NoWeightFallbackNotes(logging.Filter):
    """Drop matplotlib's note that a fallback family has no bold face (Symbola has none).

    The regular face is used for those glyphs, which is what we want; the
    note would otherwise be logged on every figure with a bold label.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


logging.getLogger("matplotlib.font_manager").addFilter(_NoWeightFallbackNotes())


@functools.lru_cache(maxsize=1)
def families() -> tuple[str, ...]:
    """The ``font.family`` list of every figure: DejaVu Sans and the installed fallbacks."""
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    chosen = [PRIMARY]
    for family, pattern, _ in FALLBACKS:
        if family not in known:
            # Installed after matplotlib's font cache was built: add it from disk.
            for path in _font_files(pattern):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError, NotImplementedError):
                    continue  # an unreadable or bitmap-only file: skip it
            known = {font.name for font in font_manager.fontManager.ttflist}
        if family in known:
            chosen.append(family)
    return tuple(chosen)


def _font_files(pattern: str) -> list[str]:
    found: list[str] = []
    for folder in _FONT_DIRS:
        if os.path.isdir(folder):
            found += glob.glob(os.path.join(folder, "**", pattern), recursive=True)
    return sorted(found)


@functools.lru_cache(maxsize=16)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib import ft2font

    return frozenset(ft2font.FT2Font(path).get_charmap())


@functools.lru_cache(maxsize=1)
def _font_paths() -> tuple[str, ...]:
    """The regular face's file of each family of :func:`families`, in order."""
    from matplotlib import font_manager

    paths = []
    for family in families():
        prop = font_manager.FontProperties(family=family)
        paths.append(font_manager.fontManager.findfont(prop, fallback_to_default=False))
    return tuple(paths)


def missing_glyphs(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no font of :func:`families` can draw, sorted."""
    wanted = {ch for text in texts for ch in text}
    wanted = {
        ch
        for ch in wanted
        if unicodedata.category(ch) not in _INVISIBLE and not 0xFE00 <= ord(ch) <= 0xFE0F
    }
    if not wanted:
        return []
    for path in _font_paths():
        wanted = {ch for ch in wanted if ord(ch) not in _charmap(path)}
        if not wanted:
            return []
    return sorted(wanted)


def _package_for(ch: str) -> str:
    code = ord(ch)
    cjk = (
        0x1100 <= code <= 0x11FF
        or 0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )
    if cjk:
        return "fonts-noto-cjk"
    if 0x2190 <= code <= 0x2BFF or 0x1F000 <= code <= 0x1FAFF:
        return "fonts-symbola"
    return "fonts-noto-core"


def check_glyphs(texts: Iterable[str]) -> list[str]:
    """Warn (once per font package) about characters no installed font can draw.

    The figure still holds them as text (PDF and SVG readers can search and
    copy them); they are drawn as empty boxes. Returns the missing characters.
    """
    missing = missing_glyphs(texts)
    by_package: dict[str, list[str]] = {}
    for ch in missing:
        by_package.setdefault(_package_for(ch), []).append(ch)
    for package, chars in by_package.items():
        if package in _warned:
            continue
        _warned.add(package)
        shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in chars[:5])
        more = f" and {len(chars) - 5} more" if len(chars) > 5 else ""
        warnings.warn(
            f"attn_widget: no installed font has a glyph for {shown}{more}; it is drawn as "
            f"an empty box (the text stays in the file). Install a font that has it, e.g. "
            f"Debian's {package} (apt-get install {package}).",
            UserWarning,
            stacklevel=3,
        )
    return missing
