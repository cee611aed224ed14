"""Writing files the user asked for: atomically, never half-written, as a plain ``open`` would.

Every PDF, JSON, ``.npz`` and HTML file goes through :func:`atomic_file`:

* **Atomic.** The bytes go to a temporary file beside the target, flushed to
  disk, then renamed over it: a reader (or a crash) never sees a partial file,
  and on an error the old file is left as it was.
* **Permissions.** The file gets what ``open(path, "w")`` would give: a new
  file ``0o666`` less the process umask (``rw-r--r--`` under the usual
  ``022``), a replaced file keeps its own mode. (``mkstemp`` alone makes every
  file ``0600``, which a web server or a colleague cannot read.)
* **Symbolic links are written through**, as ``open`` does: saving onto a
  link replaces the file it points to and keeps the link; a dangling link
  creates its target. The path returned is the file actually written (the
  link's target, absolute).
* **Errors name the user's path**, never the temporary file: ``[Errno 13]
  cannot write /proc/run.npz: Permission denied``; the exception keeps its
  type (``PermissionError``, ``FileNotFoundError``, ...).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["atomic_file", "new_file_mode", "write_atomic", "write_new"]


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way is to set it and put it back (a moment in which
    # another thread creating a file would get 0o022).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


def _renamed(error: OSError, path: pathlib.Path) -> OSError:
    """``error`` as the same type, naming the user's ``path`` instead of a temporary file."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno is None:
        return type(error)(f"cannot write {path}: {reason}")
    return type(error)(error.errno, f"cannot write {path}: {reason}")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, pathlib.Path]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` (see above).

    Parent folders are created. Yields the open binary handle and the path
    that will be written: absolute, symbolic links resolved.
    """
    user = pathlib.Path(path).expanduser()
    if user.is_dir():
        raise IsADirectoryError(f"path: expected a file name, got the folder {user}")
    for folder in user.parents:
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, f"cannot write {user}: {folder} is a file, not a folder"
                )
            break
    temporary: str | None = None
    try:
        user.parent.mkdir(parents=True, exist_ok=True)
        # Through every link (the file's and its folders'), as open() would go.
        target = pathlib.Path(os.path.realpath(user))
        if target.is_dir():
            raise IsADirectoryError(f"path: expected a file name, got the folder {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = new_file_mode()
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):  # not on Windows before Python 3.13, where modes barely apply
                os.fchmod(handle.fileno(), mode)
            yield handle, target
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        temporary = None
    except IsADirectoryError:
        raise
    except OSError as error:
        raise _renamed(error, user) from error
    finally:
        if temporary is not None:
            pathlib.Path(temporary).unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`); return the path written."""
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
    while target.exists() or target.is_symlink():
        target = target.with_name(f"{stem}-{n}{suffix}")
        n += 1
    return write_atomic(target, data)
