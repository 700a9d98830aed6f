"""The per-step loss log: written with one header, read as floats, cut back to a checkpoint's step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybridlib.training.loss_log import LOG_COLUMNS, LossLog, keep_rows_until, read_loss_log, training_seconds

HEADER = ",".join(LOG_COLUMNS)
ROWS = [  # step, epoch, total, kpr, mr, adversarial, 3d, critic, wasserstein, penalty, seconds
    "10,1,1.5,0.5,0.25,0.0,,,,,1.25",
    "11,1,0.30000000000000004,1e-05,0.125,-0.0,,0.75,0.5,2.0,2.5",  # text a float round trip would change
    "12,2,1.0,0.5,0.125,0.0,,,,,3.75",
    "13,2,0.5,0.25,0.0,0.0,0.5,,,,5.0",
]


def _write(path, lines, end="\n"):
    path.write_text("\n".join([HEADER, *lines]) + end)


def _lines(path):
    return path.read_text().splitlines()


def test_keep_rows_until_keeps_the_rows_up_to_the_step_as_written(tmp_path):
    path = tmp_path / "losses.csv"
    _write(path, ROWS)
    keep_rows_until(path, 11)
    assert _lines(path) == [HEADER, *ROWS[:2]]
    assert path.read_text().endswith("\n")
    keep_rows_until(path, 100)  # nothing after the step: unchanged
    assert _lines(path) == [HEADER, *ROWS[:2]]


def test_keep_rows_until_drops_a_row_cut_short_by_a_kill(tmp_path):
    path = tmp_path / "losses.csv"
    _write(path, [*ROWS[:2], "12,1,0.5"], end="")  # killed while writing step 12: no seconds cell
    keep_rows_until(path, 12)
    assert _lines(path) == [HEADER, *ROWS[:2]]
    _write(path, [*ROWS[:2], "1"], end="")  # killed inside the step cell
    keep_rows_until(path, 12)
    assert _lines(path) == [HEADER, *ROWS[:2]]


def test_keep_rows_until_without_a_log_does_nothing(tmp_path):
    keep_rows_until(tmp_path / "losses.csv", 3)
    assert not (tmp_path / "losses.csv").exists()


def test_read_loss_log_gives_float_columns_with_nan_for_empty_cells(tmp_path):
    path = tmp_path / "losses.csv"
    _write(path, ROWS)
    log = read_loss_log(path)
    assert list(log.columns) == list(LOG_COLUMNS) and len(log) == 4
    assert all(dtype == np.float64 for dtype in log.dtypes)
    assert log["step"].tolist() == [10.0, 11.0, 12.0, 13.0]
    assert np.isnan(log["loss_critic"][0]) and log["loss_critic"][1] == 0.75
    assert log["loss_kpr"][1] == 1e-05 and log["seconds"].tolist() == [1.25, 2.5, 3.75, 5.0]


def test_loss_log_writes_its_header_once_and_appends_to_an_existing_log(tmp_path):
    path = tmp_path / "losses.csv"
    row = dict.fromkeys(LOG_COLUMNS, "") | {"step": 0, "epoch": 0, "loss_total": 2.0, "seconds": 0.5}
    log = LossLog(path)
    log.write(row)
    assert _lines(path) == [HEADER, "0,0,2.0,,,,,,,,0.5"]  # flushed as written
    log.close()
    resumed = LossLog(path)
    resumed.write(row | {"step": 1, "loss_total": 1.5, "seconds": 1.0})
    resumed.close()
    assert _lines(path) == [HEADER, "0,0,2.0,,,,,,,,0.5", "1,0,1.5,,,,,,,,1.0"]
    assert read_loss_log(path)["loss_total"].tolist() == [2.0, 1.5]


def test_a_log_written_before_loss_3d_existed_is_read_cut_and_appended_to_with_its_own_columns(tmp_path):
    path = tmp_path / "losses.csv"
    old_columns = [column for column in LOG_COLUMNS if column != "loss_3d"]
    path.write_text(",".join(old_columns) + "\n" + "1,0,2.0,0.5,,0.0,,,,0.5\n" + "2,0,1.5,0.25,,0.0,,,,1.0\n")
    log = read_loss_log(path)
    assert list(log.columns) == list(LOG_COLUMNS) and log["loss_3d"].isna().all()
    assert log["loss_total"].tolist() == [2.0, 1.5]
    keep_rows_until(path, 1)
    resumed = LossLog(path)
    resumed.write({"step": 2, "epoch": 0, "loss_total": 1.25, "loss_3d": 9.0, "seconds": 0.75})
    resumed.close()
    assert _lines(path) == [",".join(old_columns), "1,0,2.0,0.5,,0.0,,,,0.5", "2,0,1.25,,,,,,,0.75"]


def test_training_seconds_add_up_every_invocation_of_a_resumed_run():
    uninterrupted = pd.DataFrame({"seconds": [1.0, 2.0, 3.5]})
    resumed = pd.DataFrame({"seconds": [1.0, 2.0, 0.8, 1.9, 0.5]})  # two restarts: after 2.0 s and after 1.9 s
    assert training_seconds(uninterrupted) == 3.5
    assert training_seconds(resumed) == pytest.approx(2.0 + 1.9 + 0.5)
    assert training_seconds(pd.DataFrame({"seconds": []})) == 0.0
