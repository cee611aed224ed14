"""Replies to the view's data requests, kept and computed ahead in the kernel.

In the ``slices`` tier every slider move asks the kernel for an overview tile.
For attention computed on demand (:class:`~attn_widget.lazy.LazyAttention`)
one tile of an 8,192-token head costs about 70 ms on two CPU cores, so a
first visit to each head is felt, and a jump across the grid or a second
display of the same widget pays again. Two pieces fix that:

* :class:`ReplyCache` keeps encoded replies, bounded by bytes, and lets a
  request wait for a computation of the same reply already under way
  instead of starting a second one. One cache serves all widgets of the
  kernel (:func:`shared_cache`), each under its own owner id, so widgets a
  re-run cell left behind give their bytes back to the one in use, and a
  closed widget drops its replies.
* :class:`Warmup` is a daemon thread that, once the view has asked for its
  overview, computes the same overview for every other layer and head of
  that case, nearest to where the user is first. It steps aside while the
  kernel answers a request the view is waiting for, stops when going on
  would push out its own replies, and only the warm-up of the widget the
  user touched last runs.

Replies are computed from data that never changes after the widget is made,
so a cached reply is always current; the key holds everything the reply
depends on (the request without its id, and the component).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from typing import Any

__all__ = ["Reply", "ReplyCache", "Warmup", "reply_key"]

# (JSON-able content, binary buffers)
Reply = tuple[dict[str, Any], list[bytes]]


def reply_key(component: str, request: Mapping[str, Any]) -> str:
    """What a reply depends on: the request without its id, and the component."""
    fields = {name: value for name, value in request.items() if name != "id"}
    return json.dumps([component, fields], sort_keys=True, default=str)


def _size(reply: Reply) -> int:
    return sum(len(b) for b in reply[1]) + 256


class ReplyCache:
    """Encoded replies by (owner, key), least recently used first out, at most ``max_bytes``.

    One cache serves every widget of the kernel (see :func:`shared_cache`), so
    the widgets a notebook made and no longer shows (a cell run again) give
    their bytes back as the one in use needs them.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes: expected >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._replies: OrderedDict[tuple[str, str], Reply] = OrderedDict()
        self._owned: dict[str, int] = {}
        self._pending: dict[tuple[str, str], Future[Reply]] = {}
        self._lock = threading.Lock()

    def has(self, key: str, owner: str = "") -> bool:
        """Whether the reply is kept or being computed."""
        with self._lock:
            return (owner, key) in self._replies or (owner, key) in self._pending

    def __len__(self) -> int:
        return len(self._replies)

    def owned(self, owner: str = "") -> int:
        """Bytes kept for ``owner``."""
        return self._owned.get(owner, 0)

    def room_for(self, size: int, owner: str = "") -> bool:
        """Whether ``size`` more bytes of ``owner``'s fit without pushing out its own."""
        return self.owned(owner) + size <= self.max_bytes

    def drop(self, owner: str) -> None:
        """Forget every reply of ``owner`` (a widget that was closed)."""
        with self._lock:
            for key in [key for key in self._replies if key[0] == owner]:
                self.bytes -= _size(self._replies.pop(key))
            self._owned.pop(owner, None)

    def get_or_compute(self, key: str, compute: Callable[[], Reply], owner: str = "") -> Reply:
        """The kept reply, the one being computed (waited for), or ``compute()``'s.

        An exception from ``compute`` reaches every caller waiting on it and
        nothing is kept, so a bad request is answered with its error each time.
        """
        full = (owner, key)
        with self._lock:
            kept = self._replies.get(full)
            if kept is not None:
                self._replies.move_to_end(full)
                self.hits += 1
                return kept
            pending = self._pending.get(full)
            if pending is None:
                self.misses += 1
                pending = self._pending[full] = Future()
                computes = True
            else:
                self.hits += 1
                computes = False
        if not computes:
            return pending.result()
        try:
            reply = compute()
        except BaseException as error:
            with self._lock:
                del self._pending[full]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._pending[full]
            self._keep(full, reply)
        pending.set_result(reply)
        return reply

    def _keep(self, full: tuple[str, str], reply: Reply) -> None:
        size = _size(reply)
        if size > self.max_bytes:
            return
        self._replies[full] = reply
        self.bytes += size
        self._owned[full[0]] = self._owned.get(full[0], 0) + size
        while self.bytes > self.max_bytes:
            (owner, _), old = self._replies.popitem(last=False)
            freed = _size(old)
            self.bytes -= freed
            self._owned[owner] -= freed


# Every widget's replies together: overview tiles of 12 x 12 heads at 8,192
# tokens take 54 MB as half floats.
SHARED_CACHE_BYTES = 256 * 2**20
_shared: ReplyCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> ReplyCache:
    """The kernel's one reply cache, made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ReplyCache(SHARED_CACHE_BYTES)
        return _shared


# Only the warm-up of the widget the user touched last runs: two cores are not
# shared with a widget a re-run cell left behind.
_active: Warmup | None = None
_active_lock = threading.Lock()


class Warmup:
    """Computes the overview tiles of every layer and head ahead of the user.

    ``answer(component, request)`` computes a reply. :meth:`follow` is told
    of each overview request the view makes; the thread then works through
    the ``layers x heads`` grid for that request's case, component and size,
    nearest (layer, head) first. While :meth:`demand`
    is held (the kernel computes a reply the view waits for) the thread
    waits between tiles.
    """

    def __init__(
        self,
        cache: ReplyCache,
        answer: Callable[[str, dict[str, Any]], Reply],
        owner: str = "",
    ) -> None:
        self._cache = cache
        self._answer = answer
        self._owner = owner
        self._grid = (0, 0)
        self._wake = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = False
        self._template: tuple[str, dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._resting = False
        self.computed = 0
        self.error: Exception | None = None  # the last failure, for a user who wonders

    def follow(self, component: str, request: Mapping[str, Any], layers: int, heads: int) -> None:
        """The view asked for this overview: warm its neighbours, nearest first."""
        template = {name: value for name, value in request.items() if name != "id"}
        with self._wake:
            if self._stopped:
                return
            self._template = (component, template)
            self._grid = (layers, heads)
            self._take_over()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="attn_widget-warmup", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _take_over(self) -> None:
        """Become the one warm-up that runs; the one before rests until its view asks again."""
        global _active
        with _active_lock:
            before, _active = _active, self
        if before is not None and before is not self:
            with before._wake:
                before._wake.notify()

    @property
    def active(self) -> bool:
        return _active is self

    @contextmanager
    def demand(self) -> Iterator[None]:
        """Hold the thread between tiles while the kernel answers the view."""
        self._idle.clear()
        try:
            yield
        finally:
            self._idle.set()

    def stop(self, timeout: float | None = None) -> None:
        global _active
        with self._wake:
            self._stopped = True
            self._wake.notify()
        with _active_lock:
            if _active is self:
                _active = None
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def overview(self) -> tuple[str, dict[str, Any]] | None:
        """The latest overview request followed, as (component, request without id)."""
        with self._wake:
            return self._template

    @property
    def finished(self) -> bool:
        """Whether every overview of the latest one's grid is kept (or the cache is full)."""
        return not self.running or self._resting

    def _next(self) -> tuple[str, dict[str, Any], str] | None:
        """The nearest overview not yet kept, as (component, request, key)."""
        if self._template is None:
            return None
        component, template = self._template
        layer, head = template.get("layer", 0), template.get("head", 0)
        layers, heads = self._grid
        means = sorted(((lay, -1) for lay in range(layers)), key=lambda c: abs(c[0] - layer))
        every_head = sorted(
            ((lay, h) for lay in range(layers) for h in range(heads)),
            # Seen from the mean, the nearest heads are those of its layer.
            key=lambda c: (abs(c[0] - layer) + abs(c[1] - max(head, 0)), c),
        )
        # What the view shows first; the other kind after it (a head mean costs
        # a pass per head, so while the view shows heads the means come last).
        cells = means + every_head if head == -1 else every_head + means
        for cell_layer, cell_head in cells:
            request = {**template, "layer": cell_layer, "head": cell_head}
            key = reply_key(component, request)
            if not self._cache.has(key, self._owner):
                return component, request, key
        return None

    def _run(self) -> None:
        while True:
            with self._wake:
                job = None
                while not self._stopped:
                    job = self._next() if self.active else None
                    if job is not None:
                        break
                    self._resting = True
                    self._wake.wait()
                self._resting = False
                if self._stopped or job is None:
                    return
            self._idle.wait()
            component, request, key = job
            try:
                reply = self._cache.get_or_compute(
                    key, partial(self._answer, component, request), self._owner
                )
            except Exception as error:  # the view will ask itself and show the error
                with self._wake:
                    self.error = error
                    self._template = None
                continue
            self.computed += 1
            if not self._cache.room_for(_size(reply), self._owner):
                return  # going on would evict what the user has looked at
