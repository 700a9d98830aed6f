"""A run's progress.json: written at most every few seconds and at the last step, read back
with the time left at this invocation's pace."""

from __future__ import annotations

import json

import pytest

from hybridlib import progress_file
from hybridlib.progress_file import PROGRESS_FILE, ProgressFile, read_progress


def test_progress_is_written_every_few_seconds_and_at_the_last_step(tmp_path, monkeypatch):
    clock = iter([100.0, 101.0, 106.0, 107.0, 108.0])  # started; steps 11, 12, 13, 20
    monkeypatch.setattr(progress_file.time, "perf_counter", lambda: next(clock))
    writer = ProgressFile(tmp_path, first_step=10, total_steps=20)
    writer.report(11)  # 1 s after the start: not yet
    assert not (tmp_path / PROGRESS_FILE).exists()
    writer.report(12)  # 6 s: written
    assert json.loads((tmp_path / PROGRESS_FILE).read_text()) == {
        "step": 12, "total": 20, "first_step": 10, "seconds": 6.0
    }  # fmt: skip
    writer.report(13)  # 1 s after the last write: not rewritten
    assert json.loads((tmp_path / PROGRESS_FILE).read_text())["step"] == 12
    writer.report(20)  # the last step is always written
    progress = read_progress(tmp_path / PROGRESS_FILE)
    assert (progress.step, progress.total, progress.seconds_left) == (20, 20, 0.0)


def test_the_time_left_is_at_this_invocations_pace_and_unreadable_files_are_skipped(tmp_path):
    path = tmp_path / PROGRESS_FILE
    path.write_text(json.dumps({"step": 30, "total": 100, "first_step": 20, "seconds": 50.0}))
    assert read_progress(path).seconds_left == pytest.approx(5.0 * 70)  # 10 steps in 50 s, 70 to go
    path.write_text('{"step": 3')  # being replaced
    assert read_progress(path) is None and read_progress(tmp_path / "absent.json") is None
