"""Replies to the view's data requests, kept in the kernel.

In the ``slices`` tier every slider move asks the kernel for an overview tile.
For attention computed on demand (:class:`~attn_widget.lazy.LazyAttention`)
one tile of an 8,192-token head costs about 70 ms on two CPU cores, so a
first visit to each head is felt, and a jump across the grid or a second
display of the same widget pays again. :class:`ReplyCache` keeps encoded
replies, bounded by bytes, and lets a request wait for a computation of the
same reply already under way instead of starting a second one. One cache
serves all widgets of the kernel (:func:`shared_cache`), each under its own
owner id, so widgets a re-run cell left behind give their bytes back to the
one in use, and a closed widget drops its replies.

Replies are computed from data that never changes after the widget is made,
so a cached reply is always current; the key holds everything the reply
depends on (the checked request without its id, and the component).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from ..wire import Reply

__all__ = ["ReplyCache", "reply_key", "reply_size", "shared_cache"]


def reply_key(component: str, request: Mapping[str, Any]) -> str:
    """What a reply depends on: the request without its id, and the component."""
    fields = {name: value for name, value in request.items() if name != "id"}
    return json.dumps([component, fields], sort_keys=True, default=str)


def reply_size(reply: Reply) -> int:
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

    def has_kept(self, key: str, owner: str = "") -> bool:
        """Whether the reply is kept (not only being computed)."""
        with self._lock:
            return (owner, key) in self._replies

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
                self.bytes -= reply_size(self._replies.pop(key))
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
        size = reply_size(reply)
        if size > self.max_bytes:
            return
        self._replies[full] = reply
        self.bytes += size
        self._owned[full[0]] = self._owned.get(full[0], 0) + size
        while self.bytes > self.max_bytes:
            (owner, _), old = self._replies.popitem(last=False)
            freed = reply_size(old)
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
