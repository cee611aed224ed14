"""Writing files the user asked for: atomically, never half-written."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, pathlib.Path]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    Parent folders are created. A reader (or a crash) never sees a partial
    file: the temporary file is flushed to disk, then renamed over ``path``;
    on an error it is removed and ``path`` is left as it was. Yields the open
    binary handle and the resolved target path.
    """
    target = pathlib.Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"path: expected a file name, got the folder {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, target.resolve()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`); return the path."""
    with atomic_file(path) as (handle, target):
        handle.write(data)
    return target


def write_new(folder: str | os.PathLike[str], filename: str, data: bytes) -> pathlib.Path:
    """Write ``data`` into ``folder`` as ``filename``, or ``stem-1.suffix``, ... if taken.

    For copies the user did not name one by one (a button's export into
    ``export_dir``): an earlier file is never replaced.
    """
    target = pathlib.Path(folder).expanduser() / filename
    stem, suffix = target.stem, target.suffix
    n = 1
    while target.exists():
        target = target.with_name(f"{stem}-{n}{suffix}")
        n += 1
    return write_atomic(target, data)
