"""One process at a time in a folder: a run folder while it trains, a data folder while it is
generated.

The lock is filelock's: an OS lock on ``<folder>/.lock``, released when the process ends, even
when it is killed. Beside it, ``<folder>/.lock-holder.json`` says who holds it (PID, host, what
for, since when), so that a second process can name the holder when it refuses or waits. Whoever
takes the lock removes the temporary files a killed holder left (:mod:`hybridlib.atomic_write`):
no one else writes in the folder.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from hybridlib.atomic_write import TEMPORARY_PATTERN, atomic_write_text

LOCK_NAME = ".lock"
HOLDER_NAME = ".lock-holder.json"


class FolderBusyError(RuntimeError):
    """Another process holds the folder; the message names the folder, the holder and the fix."""


def describe_holder(folder: Path) -> str:
    """Who holds ``folder``'s lock, from its holder file ("another process" where unreadable)."""
    try:
        holder = json.loads((Path(folder) / HOLDER_NAME).read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["since"]))
        return f"process {holder['pid']} on {holder['host']} ({holder['purpose']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def hold_folder(
    folder: str | Path, purpose: str, wait: bool = False, on_wait: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold ``folder`` (created if missing) for ``purpose`` ("training", "generating data") while
    the block runs. Held by another process: raise :class:`FolderBusyError` at once, or, with
    ``wait=True``, say so through ``on_wait`` and wait until it is free."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_holder(folder)
        if not wait:
            raise FolderBusyError(
                f"{folder} is in use by {holder}: two processes in one folder would mix their files. Wait for it "
                "to finish (or stop it), choose another folder, or ask to wait (train(..., wait_for_lock=True), "
                "--wait)"
            ) from None
        on_wait(f"waiting for {holder} to finish with {folder}")
        lock.acquire()
    for leftover in folder.rglob(TEMPORARY_PATTERN):
        leftover.unlink(missing_ok=True)
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "since": time.time()}
        atomic_write_text(folder / HOLDER_NAME, json.dumps(record), what="lock holder")
        yield
    finally:
        (folder / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()
