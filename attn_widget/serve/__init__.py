"""Answering the view's requests in the kernel: tiles, the reply cache, the warm-up."""

from __future__ import annotations

from .cache import ReplyCache, reply_key, shared_cache
from .requests import Handler, Server, check_request
from .warmup import Warmup

__all__ = [
    "Handler",
    "ReplyCache",
    "Server",
    "Warmup",
    "check_request",
    "reply_key",
    "shared_cache",
]
