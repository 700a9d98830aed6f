"""One process at a time in a folder: the second refuses naming the holder, or waits for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hybridlib.folder_lock import HOLDER_NAME, FolderBusyError, hold_folder


def _holder_process(folder: Path, seconds: float) -> subprocess.Popen:
    """A second process that holds ``folder`` for ``seconds``; returns once it holds it."""
    script = textwrap.dedent(
        f"""
        import time
        from hybridlib.folder_lock import hold_folder
        with hold_folder({str(folder)!r}, "testing"):
            print("held", flush=True)
            time.sleep({seconds})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_folder_is_refused_at_once_naming_the_holders_pid(tmp_path):
    holder = _holder_process(tmp_path / "run", seconds=30)
    try:
        started = time.monotonic()
        with pytest.raises(FolderBusyError, match=rf"run is in use by process {holder.pid} on .*\(testing, since"):
            with hold_folder(tmp_path / "run", "training"):
                pytest.fail("the folder is held by the other process")
        assert time.monotonic() - started < 10  # at once, not after the holder's 30 s (slack for a loaded machine)
    finally:
        holder.kill()
        holder.wait()


def test_waiting_for_a_held_folder_takes_it_when_the_holder_ends(tmp_path):
    holder = _holder_process(tmp_path / "run", seconds=1.5)
    messages = []
    started = time.monotonic()
    with hold_folder(tmp_path / "run", "training", wait=True, on_wait=messages.append):
        assert time.monotonic() - started >= 1.0  # taken only once the holder let go, after its 1.5 s
        assert f'"pid": {__import__("os").getpid()}' in (tmp_path / "run" / HOLDER_NAME).read_text()
    assert holder.wait(timeout=60) == 0  # and the holder ended normally (its interpreter may exit later than it let go)
    assert len(messages) == 1 and f"waiting for process {holder.pid}" in messages[0]
    assert not (tmp_path / "run" / HOLDER_NAME).exists()


def test_a_killed_holder_releases_the_folder_and_its_temporary_files_are_removed(tmp_path):
    holder = _holder_process(tmp_path / "run", seconds=30)
    leftover = tmp_path / "run" / f".checkpoint.pt.{holder.pid}-0a1b2c3d.tmp"
    leftover.write_bytes(b"half a checkpoint")
    holder.kill()
    holder.wait()
    with hold_folder(tmp_path / "run", "training"):
        assert not leftover.exists()
