"""``import attn_widget`` stays light: figures load matplotlib and models load torch when used."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_loads_neither_matplotlib_nor_torch() -> None:
    code = (
        "import sys, attn_widget; "
        "print(sorted(m for m in ('matplotlib', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
