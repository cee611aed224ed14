"""Token strings that break renderers, encoders and pages: a plain list other tests import.

Every one is text a tokenizer (or a file, or a user) can produce. Each entry
is ``(name, text)``; :data:`HOSTILE_STRINGS` is the texts alone. Used by the
Python hostile-input suite (tests/test_hostile_strings.py) and by the
browser tests, which put them in the live widget and the saved page.
"""

from __future__ import annotations

HOSTILE: list[tuple[str, str]] = [
    # byte-order mark and other format characters (Cf)
    ("bom", "\ufeff"),
    ("bom-prefix", "\ufeffhello"),
    ("zero-width-space", "a\u200bb"),
    ("zero-width-joiner-alone", "\u200d"),
    ("zero-width-non-joiner-persian", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ("soft-hyphen", "co\u00adop"),
    ("word-joiner", "\u2060"),
    ("arabic-number-sign", "\u0600\u0661"),
    ("musical-begin-beam", "\U0001d173"),
    ("interlinear-annotation", "\ufff9x\ufffa"),
    # direction controls
    ("right-to-left-override", "\u202e"),
    ("override-inside", "abc\u202edef"),
    ("left-to-right-override", "\u202dxyz"),
    ("isolates", "\u2066x\u2069\u2067y\u2069"),
    ("marks", "\u200e\u200f"),
    ("arabic-letter-mark", "\u061c"),
    ("unclosed-embedding", "\u202bsome text"),
    # surrogates
    ("lone-high-surrogate", "\ud800"),
    ("lone-low-surrogate", "\udfff"),
    ("surrogate-pair-as-code-units", "\ud83d\ude00"),
    ("surrogate-inside", "a\ud800b"),
    ("surrogates-reversed", "\udc00\ud800"),
    # controls
    ("nul", "\x00"),
    ("nul-inside", "a\x00b"),
    ("ansi-escape", "\x1b[31mred\x1b[0m"),
    ("bell-backspace", "\x07\x08"),
    ("delete", "\x7f"),
    ("c1-next-line", "\x85"),
    ("newline", "\n"),
    ("crlf", "\r\n"),
    ("tab", "\t"),
    ("line-separator", "\u2028"),
    ("paragraph-separator", "a\u2029b"),
    # combining marks
    ("combining-alone", "\u0301"),
    ("combining-after-base", "e\u0301"),
    ("zalgo", "Z" + "\u0336\u0334\u0335" * 20),
    ("thai-marks", "\u0e01\u0e34\u0e4d"),
    ("combining-grapheme-joiner", "a\u034fb"),
    ("variation-selector-alone", "\ufe0f"),
    # spaces and emptiness
    ("empty", ""),
    ("space", " "),
    ("spaces", "   "),
    ("no-break-space", "\u00a0"),
    ("ideographic-space", "\u3000"),
    # emoji
    ("family-zwj", "👨\u200d👩\u200d👧\u200d👦"),
    ("rainbow-flag", "🏳️\u200d🌈"),
    ("regional-indicators", "🇺🇳"),
    ("tag-sequence-flag", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),
    ("skin-tone", "👍🏽"),
    ("many-emoji", "😀" * 50),
    # scripts
    ("arabic", "مرحبا"),
    ("hebrew", "שלום"),
    ("cjk", "漢字"),
    ("japanese", "日本語のテキスト"),
    ("korean", "한국어"),
    ("devanagari", "नमस्ते"),
    ("math-alphanumerics", "𝕳𝖊𝖑𝖑𝖔"),
    ("wide-ligature", "\ufdfa"),
    # private use, noncharacters, specials
    ("private-use", "\ue000"),
    ("supplementary-private-use", "\U000f0000"),
    ("noncharacter-ffff", "\uffff"),
    ("noncharacter-fffe", "\ufffe"),
    ("last-code-point", "\U0010ffff"),
    ("noncharacter-fdd0", "\ufdd0"),
    ("replacement-character", "\ufffd"),
    # markup, templates, maths, escapes
    ("script", "<script>alert(1)</script>"),
    ("img-onerror", '<img src=x onerror="alert(1)">'),
    ("close-script", "</script><script>alert(1)</script>"),
    ("html-comment", "<!--"),
    ("entities", "&amp;&lt;&#x27;"),
    ("mustache", "{{x}}"),
    ("template-literal", "${x}"),
    ("angular-injection", "{{constructor.constructor('alert(1)')()}}"),
    ("mathtext", "$x$"),
    ("display-math", "$$\\int_0^1$$"),
    ("latex-parens", "\\(x\\)"),
    ("backslash", "\\"),
    ("escaped-newline", "\\n"),
    ("windows-path", "C:\\path\\to\\file"),
    ("quotes", "'\"`"),
    ("sql", "'; DROP TABLE tokens;--"),
    ("format-string", "%s%n%x{0}"),
    ("json-breaker", '"}]'),
    ("javascript-names", "__proto__"),
    ("null-word", "null"),
    ("nan-word", "NaN"),
    # length
    ("ten-thousand", "x" * 10_000),
    ("ten-thousand-mixed", ("a\u0301漢😀\u202e" * 2_000)),
]

HOSTILE_STRINGS: list[str] = [text for _, text in HOSTILE]
HOSTILE_NAMES: list[str] = [name for name, _ in HOSTILE]
