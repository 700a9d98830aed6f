"""Atomic writes: the file is either the old version or the new one; a failed write leaves the
old file as it was, no ``.tmp`` behind, and an OSError naming the file."""

from __future__ import annotations

import re

import pytest

from hybridlib.atomic_write import atomic_write, atomic_write_text


def test_a_write_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "table.csv"
    assert atomic_write_text(path, "old\n") == path
    assert atomic_write(path, lambda handle: handle.write("größe 1\n".encode())) == path
    assert path.read_text(encoding="utf-8") == "größe 1\n"
    assert atomic_write_text(path, "größe 2\n") == path and path.read_bytes() == "größe 2\n".encode()
    assert sorted(item.name for item in path.parent.iterdir()) == ["table.csv"]  # no .tmp behind


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("file write failed")])
def test_a_failing_writer_leaves_the_old_file_intact_and_no_tmp_file(tmp_path, failure):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"the old checkpoint")

    def write_half_then_fail(handle) -> None:
        handle.write(b"half of the new")
        raise failure

    with pytest.raises(OSError, match=re.escape(f"could not write checkpoint {path}")) as raised:
        atomic_write(path, write_half_then_fail, what="checkpoint")
    assert "the previous checkpoint is intact" in str(raised.value) and raised.value.__cause__ is failure
    assert path.read_bytes() == b"the old checkpoint"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_failing_first_write_leaves_nothing_and_says_no_earlier_file_existed(tmp_path):
    def fail(handle) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="no earlier table existed.*Free disk space"):
        atomic_write(tmp_path / "table.md", fail, what="table")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", [ValueError("a bug in the writer"), KeyboardInterrupt()])
def test_any_other_failure_is_raised_as_it_is_and_leaves_no_tmp_file(tmp_path, failure):
    path = tmp_path / "table.csv"
    path.write_bytes(b"old")

    def write_half_then_fail(handle) -> None:
        handle.write(b"half")
        raise failure

    with pytest.raises(type(failure)):
        atomic_write(path, write_half_then_fail)
    assert path.read_bytes() == b"old"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["table.csv"]
