"""python -m hybridlib.studies: the notebooks run by papermill, with training progress on the
terminal and no kernel transport warning."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import hybridlib.studies.__main__ as studies_main
from hybridlib.paths import runs_root


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
