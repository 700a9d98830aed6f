"""The workspace folder (HYBRIDLIB_HOME, else the checkout, else the current folder) and the
studies' data, runs and results folders that hang off it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridlib import paths
from hybridlib.studies import PRESETS, resolve_settings
from hybridlib.studies.presets import default_out_dir, generated_data_dir
from hybridlib.studies.runner import RunSpec, train_config

CHECKOUT = Path(__file__).resolve().parents[1]


def test_unset_or_empty_means_this_checkout(monkeypatch):
    monkeypatch.delenv(paths.HOME_VARIABLE, raising=False)
    assert paths.REPOSITORY_ROOT == CHECKOUT and paths.in_checkout()
    assert paths.workspace_root() == CHECKOUT
    monkeypatch.setenv(paths.HOME_VARIABLE, "")
    assert paths.workspace_root() == CHECKOUT
    assert default_out_dir("02_lsp_ablation", "cpu") == CHECKOUT / "results" / "02_lsp_ablation" / "cpu"


def test_outside_a_checkout_it_is_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.HOME_VARIABLE, raising=False)
    monkeypatch.setattr(paths, "REPOSITORY_ROOT", tmp_path / "site-packages")  # no pyproject.toml there
    monkeypatch.chdir(tmp_path)
    assert not paths.in_checkout() and paths.workspace_root() == tmp_path


def test_set_moves_data_runs_and_results_with_it(monkeypatch, tmp_path):
    home = tmp_path / "workspace"
    monkeypatch.setenv(paths.HOME_VARIABLE, str(home))
    assert paths.workspace_root() == home
    assert (paths.data_root(), paths.runs_root(), paths.results_root()) == (
        home / "data",
        home / "runs",
        home / "results",
    )
    smoke = PRESETS["smoke"]
    assert generated_data_dir(smoke.generated_data) == home / "data" / smoke.generated_data.folder_name
    settings = resolve_settings("02_lsp_ablation", PRESET="smoke")  # nothing is created
    assert settings.out_dir == home / "results" / "02_lsp_ablation" / "smoke" and not home.exists()
    run_dir = Path(train_config(settings, RunSpec("combined"), tmp_path / "data", progress=False).out_dir)
    assert run_dir.parent == home / "runs" / "02_lsp_ablation" / "smoke"
    assert run_dir.name.startswith("combined_seed0-")
    assert paths.REPOSITORY_ROOT == CHECKOUT  # notebooks/, docs/, git stay with the checkout


def test_set_is_expanded_and_made_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(paths.HOME_VARIABLE, "~/hybridlib-work")
    assert paths.workspace_root() == tmp_path.resolve() / "hybridlib-work"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(paths.HOME_VARIABLE, "relative/./work")
    assert paths.workspace_root() == tmp_path.resolve() / "relative" / "work"


@pytest.mark.parametrize("name", ["DATA_CACHE", "RUNS_ROOT", "REPOSITORY_ROOT"])
def test_no_import_time_copies_are_left_in_the_studies(name):
    from hybridlib.studies import presets, runner

    assert not hasattr(presets, name) and not hasattr(runner, name)
