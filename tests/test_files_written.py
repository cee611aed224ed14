"""Written files as a plain ``open(path, "w")`` would leave them: mode, links, and errors.

Every writer (``save``, ``to_json``, PDF export, ``save_html``) goes through
one atomic write; each is checked here for the umask's permissions, a
replaced file's own mode, writing through a symbolic link (and a dangling
one), and an error that names the user's path rather than a temporary file.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
from collections.abc import Callable, Iterator

import numpy as np
import pytest

import attn_widget as aw
from attn_widget import export, html, io
from attn_widget._files import atomic_file, write_atomic, write_new
from attn_widget.state import ViewState


def data() -> aw.AttentionData:
    x = np.random.default_rng(0).random((1, 2, 3, 3)).astype(np.float32)
    return aw.AttentionData(x / x.sum(-1, keepdims=True), ["a", "b", "c"])


WRITERS: dict[str, Callable[[pathlib.Path], pathlib.Path]] = {
    "npz": lambda p: io.save(data(), p),
    "json": lambda p: io.to_json(data(), p),
    "pdf": lambda p: export.write_atomic(p, export.render_pdf(data(), "heatmap")),
    "html": lambda p: html.save_html({"attention": data()}, "attention", ViewState(), p),
    "bytes": lambda p: write_atomic(p, b"x"),
}


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("kind", list(WRITERS))
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umasks_permissions(
    tmp_path: pathlib.Path, kind: str, mask: int
) -> None:
    with umask(mask):
        written = WRITERS[kind](tmp_path / f"out.{kind}")
        plain = tmp_path / "plain"
        with open(plain, "w"):
            pass
    assert mode(written) == 0o666 & ~mask == mode(plain)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_replaced_file_keeps_its_mode(tmp_path: pathlib.Path, kind: str) -> None:
    target = tmp_path / f"out.{kind}"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with umask(0o022):
        WRITERS[kind](target)
    assert mode(target) == 0o640 and target.read_bytes() != b"old"


@pytest.mark.parametrize("kind", list(WRITERS))
def test_saving_onto_a_link_writes_its_target_and_keeps_the_link(
    tmp_path: pathlib.Path, kind: str
) -> None:
    real = tmp_path / "real" / f"run.{kind}"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / f"link.{kind}"
    link.symlink_to(real)
    written = WRITERS[kind](link)
    assert written == real.resolve()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != b"old" and link.read_bytes() == real.read_bytes()
    assert sorted(p.name for p in real.parent.iterdir()) == [f"run.{kind}"]


def test_a_dangling_link_creates_its_target_and_reports_it(tmp_path: pathlib.Path) -> None:
    link = tmp_path / "run.npz"
    link.symlink_to(tmp_path / "later" / "real.npz")
    written = io.save(data(), link)
    assert written == (tmp_path / "later" / "real.npz").resolve()
    assert written.exists() and link.is_symlink()
    (back,) = io.read(link).values()  # the link now leads to the file
    np.testing.assert_array_equal(back.values[0], data().values[0])


def test_a_link_in_a_folder_of_the_path_is_followed(tmp_path: pathlib.Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "figs").symlink_to(tmp_path / "store")
    written = WRITERS["pdf"](tmp_path / "figs" / "fig.pdf")
    assert written == (tmp_path / "store" / "fig.pdf").resolve() and written.exists()


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("/proc/attn-widget-run.npz", OSError),
        ("/proc/self/attn-widget-run.npz", OSError),
    ],
)
def test_an_unwritable_place_names_the_users_path(where: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        io.save(data(), where)
    text = str(caught.value)
    assert f"cannot write {where}" in text and ".tmp" not in text


def test_a_file_in_the_way_of_a_folder_is_named(tmp_path: pathlib.Path) -> None:
    (tmp_path / "notes").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"notes is a file, not a folder"):
        io.to_json(data(), tmp_path / "notes" / "sub" / "run.json")


def test_a_failure_while_writing_names_the_path_and_leaves_nothing(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "run.npz"
    with (
        pytest.raises(OSError, match=rf"cannot write {target}: No space left"),
        atomic_file(target),
    ):
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_button_copies_never_replace_a_link_or_a_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "fig.pdf").symlink_to(tmp_path / "elsewhere.pdf")
    written = write_new(tmp_path, "fig.pdf", b"%PDF")
    assert written.name == "fig-1.pdf" and not (tmp_path / "elsewhere.pdf").exists()
