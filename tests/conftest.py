"""Shared test settings: property tests draw the same examples on every run.

A CI run that fails must fail again when rerun, and a green one must not turn
red by chance: hypothesis is derandomized (its examples come from each test's
own seed). ``AW_HYPOTHESIS_RANDOM=1`` explores fresh examples instead, to look
for new failures by hand; a failure found so is kept as an ``@example``.
"""

from __future__ import annotations

import os

try:
    from hypothesis import settings
except ImportError:  # the property tests skip without it
    pass
else:
    settings.register_profile("attn_widget", derandomize=True, database=None)
    settings.register_profile("explore")
    settings.load_profile("explore" if os.environ.get("AW_HYPOTHESIS_RANDOM") else "attn_widget")
