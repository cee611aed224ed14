"""The warm-up: every overview tile of a lazy widget computed ahead of the user.

:class:`Warmup` is a daemon thread that, once the view has asked for its
overview, computes the same overview for every other layer and head of that
case, nearest to where the user is first, then each layer's head mean. It
steps aside while the kernel answers a request the view is waiting for, stops
when going on would push out its own replies, and only the warm-up of the
widget the user touched last runs.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

from ..wire import Reply
from .cache import ReplyCache, reply_key, reply_size
from .tiles import Cancelled

__all__ = ["Warmup"]


# Only the warm-up of the widget the user touched last runs: two cores are not
# shared with a widget a re-run cell left behind.
_active: Warmup | None = None
_active_lock = threading.Lock()
# Every warm-up with a thread, to be stopped when the interpreter exits.
_threads: weakref.WeakSet[Warmup] = weakref.WeakSet()
# How long exit waits for a tile under way (a head mean at 8,192 tokens takes seconds).
EXIT_TIMEOUT = 30.0


@atexit.register
def _stop_all() -> None:
    """Stop every warm-up and wait for its thread before the interpreter tears down.

    A daemon thread still inside a torch kernel when torch's thread pool is
    destroyed aborts the process ("terminate called without an active
    exception"): a script or a kernel that exits while a lazy widget warms up
    must let the tile under way finish first.
    """
    for warmup in list(_threads):
        warmup.stop(timeout=EXIT_TIMEOUT)


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
        self._demands = 0
        # Keys the demands wait for, and the key this thread computes: it never
        # pauses inside a tile that a demand is waiting on (that would deadlock).
        self._waited: Counter[str] = Counter()
        self._current: str | None = None
        self._stopped = False
        self._template: tuple[str, dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._resting = False
        self.computed = 0
        # Seconds spent computing tiles: against the wall time from start to
        # finish, what the warm-up's own bookkeeping costs.
        self.busy_s = 0.0
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
                _threads.add(self)
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
    def demand(self, key: str | None = None) -> Iterator[None]:
        """Hold the thread between tiles, and between blocks of one, while the kernel answers.

        Held by the kernel's own thread and the refiner's at once, so counted;
        ``key`` is the reply the demand computes or waits for.
        """
        with self._wake:
            self._demands += 1
            if key is not None:
                self._waited[key] += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._wake:
                self._demands -= 1
                if key is not None:
                    self._waited[key] -= 1
                    if not self._waited[key]:
                        del self._waited[key]
                if not self._demands:
                    self._idle.set()
                    self._wake.notify_all()

    def between_blocks(self) -> bool:
        """Called inside a warm-up tile: wait while the kernel answers; whether to stop.

        A tile at 32,768 tokens takes seconds: finishing it first would keep
        the view's own request waiting for a core. Unless a demand waits for
        this very tile (then pausing would never end), it waits here.
        """
        with self._wake:
            while self._demands and not self._stopped and self._current not in self._waited:
                self._wake.wait(0.05)
            return self._stopped

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
        means: list[tuple[int, int | None]] = sorted(
            ((lay, None) for lay in range(layers)), key=lambda c: abs(c[0] - layer)
        )
        # Seen from the mean, the nearest heads are those of its layer.
        at = head if head is not None else 0
        heads_by_distance = sorted(
            ((lay, h) for lay in range(layers) for h in range(heads)),
            key=lambda c: (abs(c[0] - layer) + abs(c[1] - at), c),
        )
        every_head: list[tuple[int, int | None]] = list(heads_by_distance)
        # What the view shows first; the other kind after it (a head mean costs
        # a pass per head, so while the view shows heads the means come last).
        cells = means + every_head if head is None else every_head + means
        for cell_layer, cell_head in cells:
            request = {**template, "layer": cell_layer, "head": cell_head}
            key = reply_key(component, request)
            if not self._cache.has(key, self._owner):
                return component, request, key
        return None

    def _timed(self, component: str, request: dict[str, Any]) -> Reply:
        """Compute one reply, adding its time to :attr:`busy_s` (bench_long's accounting)."""
        start = time.perf_counter()
        try:
            return self._answer(component, request)
        finally:
            self.busy_s += time.perf_counter() - start

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
            with self._wake:
                self._current = key
            try:
                try:
                    reply = self._cache.get_or_compute(
                        key, partial(self._timed, component, request), self._owner
                    )
                finally:
                    with self._wake:
                        self._current = None
            except Cancelled:  # the refiner computed this tile and the view moved on
                continue
            except Exception as error:  # the view will ask itself and show the error
                with self._wake:
                    self.error = error
                    self._template = None
                continue
            self.computed += 1
            if not self._cache.room_for(reply_size(reply), self._owner):
                return  # going on would evict what the user has looked at
