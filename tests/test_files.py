"""Atomic writes of what the user asked to save."""

from __future__ import annotations

import os
import pathlib

import pytest

from attn_widget._files import write_atomic


def test_writes_create_folders_and_replace_only_the_named_file(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "a" / "b" / "fig.pdf"
    assert write_atomic(target, b"one") == target.resolve()
    assert target.read_bytes() == b"one"
    neighbour = target.with_name("other.pdf")
    neighbour.write_bytes(b"keep")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and neighbour.read_bytes() == b"keep"
    assert sorted(p.name for p in target.parent.iterdir()) == ["fig.pdf", "other.pdf"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "fig.pdf"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.pdf"]


def test_a_folder_is_not_a_file_name(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError, match="expected a file name"):
        write_atomic(tmp_path, b"x")
