"""First sight of a long head: a quick estimate of its tile at once, the exact tile after it.

A pooled overview of one head at 8,192 tokens computed on demand costs
about 0.1 s on two CPU cores, at 32,768 tokens about 1.5 s: a never-seen
head would keep the view waiting. For such a tile the kernel answers twice,
under the request's one id:

1. at once, an **estimate** (``"estimate": true`` in the reply): each pooled
   row read from a few of its query rows, the longest queries (see
   ``LazyAttention.estimated_rows``), each computed exactly over every key,
   so the estimate is never brighter than the truth and is exact on every
   row it reads; it costs at most about an eighth of the exact tile (less at 32,768 tokens);
2. then the **exact** tile, computed by this widget's :class:`Refiner`
   thread while the kernel goes on answering the view.

The estimate and the exact tile are kept under their own keys in the
kernel's reply cache (one entry per stage). The view marks an estimate as
refining until the exact tile replaces it, and sends ``{"type": "cancel",
"id": ...}`` for a tile it no longer wants (a slider moved): a queued exact
tile is dropped, one under way stops at its next block of rows, and the
view gets ``"cancelled": true``.
"""

from __future__ import annotations

import atexit
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..data import AttentionSource

__all__ = ["Foreground", "Refiner", "estimate_reads"]

# Below this many cells in the window an exact tile takes tens of
# milliseconds: it is sent at once, without an estimate.
ESTIMATE_MIN_CELLS = 1 << 23
# Fewer query rows per pooled row than this: an estimate would read most of them.
ESTIMATE_MIN_POOL = 4
# An estimate reads one query row in this many (at least one per pooled row),
# and no more than about this many scores.
ROWS_PER_READ = 8
ESTIMATE_CELLS = 1 << 25

Job = Callable[[Callable[[], bool]], None]


class Foreground:
    """What the view waits for now, so the refiner steps aside between its blocks.

    Two cores shared by an exact tile (seconds at 32,768 tokens) and the
    estimate of the head the user just moved to would make the estimate as
    slow as the tile. The kernel's thread holds :meth:`serving` while it
    computes an estimate or a reply that is never a tile (tokens, links,
    scores: the refiner never computes those, so it cannot be what the
    kernel waits on); the refiner calls :meth:`yield_to` between blocks.
    """

    def __init__(self) -> None:
        self._clear = threading.Condition()
        self._serving = 0

    @contextmanager
    def serving(self) -> Iterator[None]:
        with self._clear:
            self._serving += 1
        try:
            yield
        finally:
            with self._clear:
                self._serving -= 1
                self._clear.notify_all()

    def yield_to(self, cancelled: Callable[[], bool]) -> bool:
        """Wait while the kernel serves the view; then whether the job was cancelled."""
        with self._clear:
            while self._serving and not cancelled():
                self._clear.wait(0.05)
        return cancelled()


def estimate_reads(source: AttentionSource, request: Mapping[str, Any]) -> int | None:
    """Query rows per pooled row an estimate of this tile reads; None: send the exact tile only.

    Only attention computed on demand gets an estimate (stored weights are
    pooled in milliseconds), only for a long window, and only when its
    pooled rows hold enough query rows to leave most of them unread.
    """
    if request.get("type") != "tile" or request.get("rows") is None:
        return None
    if source.holds_weights or not hasattr(source, "estimated_rows"):
        return None
    rows = request["q1"] - request["q0"]
    if rows * (request["k1"] - request["k0"]) < ESTIMATE_MIN_CELLS:
        return None
    fq = math.ceil(rows / request["rows"])
    if fq < ESTIMATE_MIN_POOL:
        return None
    # At most ESTIMATE_CELLS scores in all: at 32,768 tokens one in eight rows
    # would cost a quarter of a second on two cores, past a first sight's budget.
    affordable = ESTIMATE_CELLS // max(1, request["rows"] * (request["k1"] - request["k0"]))
    return max(1, min(fq // ROWS_PER_READ, affordable))


# Every refiner with a thread, stopped before the interpreter exits (a thread
# still inside a torch kernel then would abort the process, as the warm-up's).
_refiners: weakref.WeakSet[Refiner] = weakref.WeakSet()
EXIT_TIMEOUT = 30.0


@atexit.register
def _stop_all() -> None:
    for refiner in list(_refiners):
        refiner.stop(timeout=EXIT_TIMEOUT)


class Refiner:
    """One widget's thread for exact tiles after their estimates, oldest request first.

    :meth:`submit` queues a job under its request id; :meth:`cancel` drops a
    queued one or asks the running one to stop (the job is handed a
    ``cancelled()`` function to ask between blocks of work).
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._queue: OrderedDict[Any, Job] = OrderedDict()
        self._running: Any = None
        self._cancelled: set[Any] = set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def submit(self, request_id: Any, job: Job) -> None:
        with self._wake:
            if self._stopped:
                return
            self._cancelled.discard(request_id)
            self._queue[request_id] = job
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="attn_widget-refine", daemon=True
                )
                _refiners.add(self)
                self._thread.start()
            self._wake.notify_all()

    def cancel(self, request_id: Any) -> bool:
        """Drop the job of ``request_id``; whether it was queued or running."""
        with self._wake:
            if self._queue.pop(request_id, None) is not None:
                return True
            if self._running == request_id:
                self._cancelled.add(request_id)
                return True
            return False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued job has run; whether that happened within ``timeout``."""
        with self._wake:
            return self._wake.wait_for(
                lambda: not self._queue and self._running is None, timeout=timeout
            )

    @property
    def pending(self) -> int:
        with self._wake:
            return len(self._queue) + (self._running is not None)

    def stop(self, timeout: float | None = None) -> None:
        with self._wake:
            self._stopped = True
            self._queue.clear()
            if self._running is not None:
                self._cancelled.add(self._running)
            self._wake.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                request_id, job = self._queue.popitem(last=False)
                self._running = request_id

            def cancelled(request_id: Any = request_id) -> bool:
                return self._stopped or request_id in self._cancelled

            try:
                job(cancelled)
            except Exception:  # a job sends its own error reply; the thread goes on
                pass
            finally:
                with self._wake:
                    self._running = None
                    self._cancelled.discard(request_id)
                    self._wake.notify_all()
