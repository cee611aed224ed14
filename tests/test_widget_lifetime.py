"""Closed widgets give their memory back; an exit while a lazy widget warms up is clean."""

from __future__ import annotations

import subprocess
import sys
import textwrap

LIFETIME = textwrap.dedent(
    """
    import gc, weakref
    import numpy as np, torch
    import attn_widget as aw

    def rss_mb():
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    a = np.random.default_rng(0).random((6, 12, 128, 128)).astype(np.float32)  # 4.7 MB of weights
    def lazy():
        g = torch.Generator().manual_seed(0)
        q = [[torch.randn(4, 512, 32, generator=g) for _ in range(2)]]
        k = [[torch.randn(4, 512, 32, generator=g) for _ in range(2)]]
        w = aw.AttentionWidget(aw.LazyAttention(q, k, [[str(i) for i in range(512)]], scaling=0.2,
                                                causal=True))
        w.send = lambda *args, **kwargs: None
        w._on_message(w, {"type": "tile", "id": 1, "layer": 0, "head": 0, "case": 0,
                          "rows": 64, "cols": 64}, [])
        return w

    def cycle(make):
        w = make()
        ref = weakref.ref(w)
        w.close()
        del w
        return ref

    for make in (lambda: aw.AttentionWidget(a), lazy):  # warm the allocator and the imports
        cycle(make)
    gc.collect()
    one = rss_mb()
    refs = [cycle(lambda: aw.AttentionWidget(a)) for _ in range(20)]
    refs += [cycle(lazy) for _ in range(5)]
    gc.collect()
    print(sum(r() is not None for r in refs), one, rss_mb())
    """
)


def test_twenty_closed_widgets_are_freed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LIFETIME], capture_output=True, text=True, check=True, timeout=300
    )
    alive, one, after = out.stdout.split()
    assert int(alive) == 0
    # Each widget held ~10 MB (weights, the packed cube); 20 left behind would be +200 MB.
    assert float(after) <= 1.1 * float(one), (one, after)


EXIT_DURING_WARMUP = textwrap.dedent(
    """
    import time, torch, attn_widget as aw
    n = 2048
    g = torch.Generator().manual_seed(0)
    q = [[torch.randn(8, n, 64, generator=g) for _ in range(4)]]
    k = [[torch.randn(8, n, 64, generator=g) for _ in range(4)]]
    w = aw.AttentionWidget(aw.LazyAttention(q, k, [[str(i) for i in range(n)]], scaling=0.125,
                                            causal=True))
    w.send = lambda *args, **kwargs: None
    w._on_message(w, {"type": "tile", "id": 1, "layer": 0, "head": 0, "case": 0,
                      "rows": 440, "cols": 440}, [])
    time.sleep(0.3)
    print("warming:", w._server.warmup.running)
    """
)


def test_exiting_while_the_warmup_runs_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-c", EXIT_DURING_WARMUP], capture_output=True, text=True, timeout=300
    )
    assert "warming: True" in out.stdout
    assert out.returncode == 0, out.stderr[-500:]
    assert "terminate called" not in out.stderr


def test_tokens_given_with_a_source_are_refused_not_dropped() -> None:
    import numpy as np
    import pytest

    import attn_widget as aw

    data = aw.AttentionData(np.full((3, 3), 1 / 3, np.float32), list("abc"))
    with pytest.raises(ValueError, match=r"tokens: the attention given is an AttentionData"):
        aw.AttentionWidget(data, list("xyz"))
    with pytest.raises(ValueError, match=r"target_tokens: .* holds its own tokens"):
        aw.AttentionWidget({"cross": data}, target_tokens=list("xyz"))
    assert aw.AttentionWidget(data).data.tokens == [list("abc")]
