"""python -m hybridlib.studies: the notebooks run by papermill, with training progress on the
terminal and no kernel transport warning."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import hybridlib.studies.__main__ as studies_main
from hybridlib.data.generate import CACHE_DIR_NAME
from hybridlib.paths import data_root, runs_root
from hybridlib.progress_file import PROGRESS_FILE, ProgressFile


def test_run_notebooks_prints_training_progress_and_no_kernel_warning(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(studies_main, "PROGRESS_EVERY_S", 0.2)
    other_kernels = set(Path(tempfile.gettempdir()).glob("hybridlib-kernel-*"))  # a study running beside the test
    seconds = studies_main.run_notebooks("smoke", ("01_overfit_8_images",))
    printed = capfd.readouterr()
    assert set(seconds) == {"01_overfit_8_images"}
    lines = [line for line in printed.out.splitlines() if "min left in this run" in line]
    assert lines and all(line.startswith("[01_overfit_8_images] ") and "step " in line for line in lines)
    assert "TCP without encryption" not in printed.err + printed.out
    assert set(Path(tempfile.gettempdir()).glob("hybridlib-kernel-*")) <= other_kernels  # its socket files are gone
    progress = [
        json.loads(path.read_text()) for path in (runs_root() / "01_overfit_8_images").glob("*/*/progress.json")
    ]
    assert progress and all(record["step"] == record["total"] for record in progress)  # the last step is written


def test_the_generation_of_a_dataset_is_reported_and_a_removed_cache_is_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path))
    monkeypatch.setattr(studies_main, "PROGRESS_EVERY_S", 0.02)
    cache = data_root() / "generated-lsp20" / CACHE_DIR_NAME
    ProgressFile(cache, first_step=0, total_steps=20).report(20)  # the last image: written at once
    old_run = runs_root() / "02_lsp_ablation" / "cpu" / "combined_seed0"
    ProgressFile(old_run, first_step=0, total_steps=9).report(9)
    os.utime(old_run / PROGRESS_FILE, (0, 0))  # written before this study started: not shown
    stop = threading.Event()
    reporter = threading.Thread(target=studies_main._report_progress, args=("02_lsp_ablation", "cpu", 1.0, stop))
    reporter.start()
    time.sleep(0.2)
    shutil.rmtree(cache)  # the dataset is complete: its cache goes, the reporter carries on
    ProgressFile(runs_root() / "02_lsp_ablation" / "cpu" / "combined_seed1", 0, 9).report(9)
    time.sleep(0.2)
    stop.set()
    reporter.join()
    lines = set(capsys.readouterr().out.splitlines())
    assert lines == {
        "[02_lsp_ablation] generating data/generated-lsp20: image 20/20, about 0 min left to generate",
        "[02_lsp_ablation] combined_seed1: step 9/9, about 0 min left in this run",
    }
