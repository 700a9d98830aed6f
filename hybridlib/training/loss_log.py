"""The per-step loss log ``out_dir/losses.csv``: one row per generator step, flushed as it is
written; a resumed run first drops the rows after its checkpoint (and a row cut short by a
kill), so that its log equals an uninterrupted run's. ``loss_3d`` (pretraining only) is empty
in runs without it; logs written before it existed lack the column and are read and appended to
as they are."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from hybridlib.atomic_write import atomic_write_text

LOG_COLUMNS = (
    "step",
    "epoch",
    "loss_total",
    "loss_kpr",
    "loss_mr",
    "loss_adversarial",
    "loss_3d",
    "loss_critic",
    "critic_wasserstein",
    "critic_gradient_penalty",
    "seconds",
)


def read_loss_log(path: str | Path) -> pd.DataFrame:
    """The per-step CSV, one float column per :data:`LOG_COLUMNS` entry (empty cells and columns
    an older log lacks → NaN)."""
    return pd.read_csv(path, dtype=float).reindex(columns=list(LOG_COLUMNS))


def training_seconds(log: pd.DataFrame) -> float:
    """Wall seconds a run has trained for, over all its invocations, from its loss log: each
    invocation's ``seconds`` count from its own start, so the total is the sum of the last value
    before every restart (where ``seconds`` drops) and of the final one. 0 for an empty log."""
    seconds = log["seconds"].to_numpy()
    if not len(seconds):
        return 0.0
    restarts = seconds[1:] < seconds[:-1]
    return float(seconds[:-1][restarts].sum() + seconds[-1])


def keep_rows_until(path: Path, step: int) -> None:
    """Keep the complete rows up to ``step`` (as written: the text of each cell is kept)."""
    if not path.is_file():
        return
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    # "seconds", the last cell, is always written: a row without it was cut short by a kill
    complete = (rows["seconds"] != "") & rows["step"].str.isdigit()
    kept = rows[complete & (pd.to_numeric(rows["step"], errors="coerce") <= step)]
    columns = [column for column in LOG_COLUMNS if column in rows.columns]  # an older log keeps its columns
    atomic_write_text(path, kept.to_csv(index=False, columns=columns, lineterminator="\n"), what="loss log")


class LossLog:
    """Appends rows to ``path`` (the header first when the file is new; an existing file keeps
    its own columns); the main process only."""

    def __init__(self, path: Path) -> None:
        new = not path.is_file() or path.stat().st_size == 0
        if new:
            columns = LOG_COLUMNS
        else:
            with open(path, newline="") as existing:  # the header only: a long run's log is large
                columns = existing.readline().rstrip("\r\n").split(",")
        self._file = open(path, "a", newline="")
        self._writer = csv.DictWriter(
            self._file, fieldnames=columns, restval="", extrasaction="ignore", lineterminator="\n"
        )
        if new:
            self._writer.writeheader()

    def write(self, row: dict[str, float]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()
