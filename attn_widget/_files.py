"""Writing files the user asked for: atomically, never half-written."""

from __future__ import annotations

import os
import pathlib
import tempfile


def write_atomic(path: str | os.PathLike[str], data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Parent folders are created. A reader (or a crash) never sees a partial
    file: the temporary file is flushed to disk, then renamed over ``path``.
    Returns the resolved path.
    """
    target = pathlib.Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"path: expected a file name, got the folder {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
    return target.resolve()
