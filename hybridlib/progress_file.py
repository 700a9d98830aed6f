"""``progress.json``: how far a long job is, for whoever watches it (``python -m
hybridlib.studies`` prints it while a notebook runs). The training loop writes one into its run
folder (steps), the data generator into its cache folder (images); :class:`ProgressFile`
writes it, :func:`read_progress` reads it back with the time left."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hybridlib.atomic_write import atomic_write_text

PROGRESS_FILE = "progress.json"
PROGRESS_EVERY_S = 5.0  # how often a job rewrites it


class ProgressFile:
    """Writes the step (items done), the total, the first step of this invocation (a resumed
    job starts later) and the seconds since it into ``folder/progress.json``, every
    :data:`PROGRESS_EVERY_S` seconds and at the last step."""

    def __init__(self, folder: Path, first_step: int, total_steps: int) -> None:
        self.path, self.first_step, self.total = Path(folder) / PROGRESS_FILE, first_step, total_steps
        self.started = self.written = time.perf_counter()

    def report(self, step: int) -> None:
        now = time.perf_counter()
        if now - self.written < PROGRESS_EVERY_S and step < self.total:
            return
        self.written = now
        record = {"step": step, "total": self.total, "first_step": self.first_step, "seconds": now - self.started}
        atomic_write_text(self.path, json.dumps(record), what="progress")


@dataclass(frozen=True)
class Progress:
    """A job's progress as last written: step of total, and the seconds left at this
    invocation's pace."""

    step: int
    total: int
    seconds_left: float


def read_progress(path: Path) -> Progress | None:
    """The progress in ``path`` (a ``progress.json``); None while it is being replaced or when
    it is not one."""
    try:
        record = json.loads(Path(path).read_text())
        step, total, seconds = int(record["step"]), int(record["total"]), float(record["seconds"])
        done_here = max(step - int(record.get("first_step", 0)), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Progress(step, total, seconds / done_here * (total - step))
