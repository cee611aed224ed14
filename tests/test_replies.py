"""Replies kept in the kernel and the overview warm-up thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import torch

import attn_widget as aw
from attn_widget import wire
from attn_widget.serve import ReplyCache, Warmup, reply_key, tiles


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def reply(size: int) -> tuple[dict[str, Any], list[bytes]]:
    return {"n": size}, [bytes(size)]


def test_a_kept_reply_is_not_computed_again_and_the_id_does_not_matter() -> None:
    cache = ReplyCache(10_000)
    calls = []
    first = reply_key("attention", {"type": "tile", "id": "v1-1", "layer": 0})
    again = reply_key("attention", {"type": "tile", "id": "v2-7", "layer": 0})
    other = reply_key("cross", {"type": "tile", "id": "v1-1", "layer": 0})
    assert first == again and first != other
    for key in (first, again, other):
        cache.get_or_compute(key, lambda: calls.append(1) or reply(10))
    assert len(calls) == 2 and (cache.hits, cache.misses) == (1, 2)


def test_least_recently_used_replies_go_first_when_bytes_run_out() -> None:
    cache = ReplyCache(3 * (1000 + 256))
    for key in "abc":
        cache.get_or_compute(key, lambda: reply(1000))
    cache.get_or_compute("a", lambda: reply(1000))  # a is now the most recent
    cache.get_or_compute("d", lambda: reply(1000))
    assert not cache.has("b") and all(cache.has(k) for k in "acd")
    assert cache.bytes <= cache.max_bytes
    cache.get_or_compute("huge", lambda: reply(10_000))  # larger than the cache: not kept
    assert not cache.has("huge") and len(cache) == 3


def test_an_error_reaches_the_caller_and_nothing_is_kept() -> None:
    cache = ReplyCache(10_000)

    def fail() -> Any:
        raise ValueError("layer: expected 0..1, got 5")

    for _ in range(2):
        with pytest.raises(ValueError, match=r"expected 0\.\.1"):
            cache.get_or_compute("bad", fail)
    assert not cache.has("bad") and cache.misses == 2


def test_a_second_request_waits_for_the_computation_under_way() -> None:
    cache = ReplyCache(10_000)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> Any:
        calls.append(1)
        started.set()
        release.wait(5)
        return reply(5)

    results = []
    worker = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    worker.start()
    started.wait(5)
    waiter = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    waiter.start()
    time.sleep(0.05)
    release.set()
    worker.join(5)
    waiter.join(5)
    assert len(calls) == 1 and len(results) == 2 and results[0] is results[1]


def test_warmup_goes_nearest_first_and_waits_while_the_view_waits() -> None:
    cache = ReplyCache(1 << 20)
    order: list[tuple[int, int | None]] = []
    gate = threading.Event()

    def answer(component: str, request: dict[str, Any]) -> Any:
        gate.wait(5)
        order.append((request["layer"], request["head"]))
        return reply(8)

    warm = Warmup(cache, answer)
    with warm.demand():
        warm.follow("attention", {"type": "tile", "id": 1, "layer": 1, "head": 1}, 3, 3)
        gate.set()
        time.sleep(0.1)
        assert order == []  # held while the view's own request is computed
    wait_for(lambda: len(order) == 9 + 3)
    wait_for(lambda: warm.finished)
    assert order[0] == (1, 1)
    distances = [abs(layer - 1) + abs(head - 1) for layer, head in order[:9]]
    assert distances == sorted(distances)
    # Every head first, then each layer's head mean, nearest layer first.
    assert order[9:] == [(1, None), (0, None), (2, None)]
    assert warm.running  # idle, waiting to be told of another overview
    warm.stop(5)
    assert not warm.running


def test_while_the_view_shows_the_mean_the_means_come_first() -> None:
    cache = ReplyCache(1 << 20)
    order: list[tuple[int, int | None]] = []

    def answer(component: str, request: dict[str, Any]) -> Any:
        order.append((request["layer"], request["head"]))
        return reply(8)

    warm = Warmup(cache, answer)
    warm.follow("attention", {"type": "tile", "layer": 2, "head": None}, 3, 2)
    wait_for(lambda: len(order) == 3 + 6)
    assert order[:3] == [(2, None), (1, None), (0, None)]
    assert order[3:6] == [(2, 0), (1, 0), (2, 1)]  # then the heads, nearest that layer first
    warm.stop(5)


def test_warmup_stops_rather_than_evict() -> None:
    cache = ReplyCache(4 * (100 + 256))
    warm = Warmup(cache, lambda component, request: reply(100))
    warm.follow("attention", {"type": "tile", "layer": 0, "head": 0}, 4, 4)
    wait_for(lambda: not warm.running)
    assert len(cache) == 4 and warm.computed == 4


def lazy_widget(n: int = 64) -> aw.AttentionWidget:
    gen = torch.Generator().manual_seed(0)
    queries = [[torch.randn(3, n, 8, generator=gen) for _ in range(2)]]
    keys = [[torch.randn(3, n, 8, generator=gen) for _ in range(2)]]
    tokens = [[f"t{i}" for i in range(n)]]
    att = aw.LazyAttention(queries, keys, tokens, scaling=8**-0.5, causal=True)
    return aw.AttentionWidget(att)


def kept(w: aw.AttentionWidget, key: str) -> bool:
    return w._server.cache.has(key, w._server.owner)


def count_computations(w: aw.AttentionWidget) -> list[dict[str, Any]]:
    """From now on, the requests the kernel computes itself rather than finds kept."""
    calls: list[dict[str, Any]] = []
    original = w._server.compute

    def counted(component: str, request: dict[str, Any]) -> Any:
        calls.append(request)
        return original(component, request)

    w._server.compute = counted  # type: ignore[method-assign]
    return calls


def overview(layer: int, head: int, n: int = 64, **extra: Any) -> dict[str, Any]:
    return {
        "type": "tile", "layer": layer, "head": head, "case": 0,
        "q0": 0, "q1": n, "k0": 0, "k1": n, "rows": 16, "cols": 16, **extra,
    }  # fmt: skip


def decode_tile(content: dict[str, Any], buffers: list[bytes]) -> np.ndarray:
    values = wire.decode(buffers[0], content["dtype"], content["scale"])
    return values.reshape(content["rows"], content["cols"])


def test_a_lazy_widget_warms_every_overview_after_the_first_and_answers_them_kept() -> None:
    w = lazy_widget()
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    try:
        w._on_message(w, {**overview(0, 0), "id": "v1-1"}, [])
        every = [reply_key("attention", overview(lay, h)) for lay in range(2) for h in range(3)]
        wait_for(lambda: all(kept(w, key) for key in every))
        computed = count_computations(w)
        for layer in range(2):
            for head in range(3):
                w._on_message(w, {**overview(layer, head), "id": "v2", "prefetch": True}, [])
                content, buffers = sent[-1]
                assert (content["id"], content["layer"], content["head"]) == ("v2", layer, head)
                expected = tiles.tile(w.data, layer, head, 0, max_rows=16, max_cols=16).values
                np.testing.assert_allclose(decode_tile(content, buffers), expected, atol=1e-6)
        assert computed == []  # every one was kept by the warm-up
        # A zoomed window is answered, kept, and starts no new warm-up work.
        computed = w._server.warmup.computed
        w._on_message(w, {**overview(1, 2), "q0": 8, "q1": 24, "id": "v1-2"}, [])
        assert sent[-1][0]["rows"] == 16 and w._server.warmup.computed == computed
    finally:
        w.close()
    assert not w._server.warmup.running


def test_the_cube_tier_starts_no_thread_and_errors_are_still_answered() -> None:
    a = np.full((2, 2, 4, 4), 0.25, np.float32)
    w = aw.AttentionWidget(a)
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    w._on_message(w, {**overview(0, 0, n=4), "id": 1}, [])
    assert w._server.warmup is None and sent[-1][0]["rows"] == 4
    w._on_message(w, {**overview(5, 0, n=4), "id": 2}, [])
    assert sent[-1][0]["error"].startswith("layer: expected 0..1")
    assert not kept(w, reply_key("attention", {**overview(5, 0, n=4)}))


def test_thumbnails_are_pooled_from_the_kept_overviews() -> None:
    w = lazy_widget()
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    try:
        w._on_message(w, {**overview(0, 0), "id": 1}, [])
        every = [reply_key("attention", overview(lay, h)) for lay in range(2) for h in range(3)]
        wait_for(lambda: all(kept(w, key) for key in every))
        wait_for(lambda: w._server.warmup.finished)
        computed = count_computations(w)
        w._on_message(w, {"type": "thumbs", "id": 2, "layer": 1, "case": 0, "size": 5}, [])
        content, buffers = sent[-1]
        # Only the thumbnails themselves were new: no head's attention was computed again.
        assert computed == []
        assert (content["rows"], content["cols"]) == (4, 4)  # 64 -> 16 overview -> 4 (<= 5)
        thumbs = wire.decode(buffers[0], content["dtype"], content["scale"]).reshape(3, 4, 4)
        for head in range(3):
            # A max pool of the 16 x 16 overview by 4 is a max pool of the matrix by 16.
            expected = tiles.max_pool(w.data.matrix(1, head, 0), 16, 16)
            np.testing.assert_allclose(thumbs[head], expected, rtol=1e-3)
        w._on_message(w, {"type": "thumbs", "id": 3, "layer": 1, "case": 0, "size": 0}, [])
        assert sent[-1][0]["error"] == "size: expected at least 1 pixel, got 0"
    finally:
        w.close()


def test_owners_share_the_bytes_and_a_closed_owner_gives_them_back() -> None:
    cache = ReplyCache(3 * (1000 + 256))
    cache.get_or_compute("a", lambda: reply(1000), owner="old")
    cache.get_or_compute("a", lambda: reply(1000), owner="new")  # same request, other widget
    assert cache.has("a", "old") and cache.has("a", "new") and not cache.has("a")
    assert cache.room_for(1000, "new") and cache.owned("new") == 1256
    cache.get_or_compute("b", lambda: reply(1000), owner="new")
    cache.get_or_compute("c", lambda: reply(1000), owner="new")
    # The least recently used went first, whoever it was kept for.
    assert not cache.has("a", "old") and cache.owned("old") == 0
    assert not cache.room_for(1000, "new")  # the warm-up would now push out its own
    cache.drop("new")
    assert cache.bytes == 0 and len(cache) == 0 and cache.room_for(3000, "new")


def test_only_the_warmup_of_the_widget_touched_last_runs() -> None:
    cache = ReplyCache(1 << 20)
    done: dict[str, list[int]] = {"first": [], "second": []}
    gate = threading.Event()

    def answer_for(name: str) -> Any:
        def answer(component: str, request: dict[str, Any]) -> Any:
            gate.wait(5)
            done[name].append(request["layer"])
            return reply(8)

        return answer

    first = Warmup(cache, answer_for("first"), owner="first")
    second = Warmup(cache, answer_for("second"), owner="second")
    try:
        first.follow("attention", {"type": "tile", "layer": 0, "head": 0}, 20, 1)
        second.follow("attention", {"type": "tile", "layer": 0, "head": 0}, 20, 1)
        assert second.active and not first.active
        gate.set()
        wait_for(lambda: second.finished and len(done["second"]) == 20 + 20)  # heads, means
        wait_for(lambda: first.finished)
        assert len(done["first"]) <= 1  # at most the tile it had begun
        first.follow("attention", {"type": "tile", "layer": 5, "head": 0}, 20, 1)  # touched again
        wait_for(lambda: len(done["first"]) == 40)
        assert first.active and not second.active
    finally:
        first.stop(5)
        second.stop(5)


def test_closing_a_widget_drops_its_replies_from_the_kernel() -> None:
    w = lazy_widget()
    w.send = lambda content, buffers=None: None
    w._on_message(w, {**overview(0, 0), "id": 1}, [])
    wait_for(lambda: w._server.warmup.finished)
    assert w._server.cache.owned(w._server.owner) > 0
    w.close()
    assert w._server.cache.owned(w._server.owner) == 0
    assert not w._server.warmup.running


def test_the_warm_up_pauses_inside_a_tile_while_the_view_waits_but_never_on_its_own_tile() -> None:
    cache = ReplyCache(1 << 20)
    inside = threading.Event()
    blocks: list[float] = []
    warm: Warmup

    def answer(component: str, request: dict[str, Any]) -> Any:
        if (request["layer"], request["head"]) == (0, 1):  # the first tile warmed: 20 blocks
            inside.set()
            for _ in range(20):
                warm.between_blocks()
                blocks.append(time.monotonic())
                time.sleep(0.01)
        return reply(8)

    warm = Warmup(cache, answer)
    warm.follow("attention", {"type": "tile", "id": 1, "layer": 0, "head": 0}, 1, 3)
    assert inside.wait(5)
    with warm.demand("a token row"):  # the view waits for something else: the tile pauses
        held = len(blocks)
        time.sleep(0.3)
        assert len(blocks) <= held + 1
    # The view waits for the very tile being warmed: it goes on (no deadlock).
    key = reply_key("attention", {"type": "tile", "layer": 0, "head": 1})
    with warm.demand(key):
        wait_for(lambda: len(blocks) == 20, 5)
    warm.stop(5)
