"""The studies: the notebooks' storage rule, notebooks run through papermill with parameters
(checking the table and provenance they write), the loss-curve helpers."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from hybridlib.evaluation.report import TRIVIAL_LABEL
from hybridlib.paths import REPOSITORY_ROOT
from hybridlib.studies import ParameterError, resolve_settings
from hybridlib.studies.studies import draw_loss_curves, running_mean

NOTEBOOKS = sorted((REPOSITORY_ROOT / "notebooks").glob("*.ipynb"))
STUDY_PARAMETERS = ("PRESET", "DATA_DIR", "BODY_MODEL", "EPOCHS", "DEVICE", "PRECISION", "SEEDS", "OUT_DIR")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_are_stored_without_outputs_and_have_a_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells), (
        "clear the outputs before committing"
    )
    parameters = [cell for cell in code_cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1
    if path.stem != "04_browse":  # the study notebooks share the full parameter set
        assert all(f"{name} = " in parameters[0].source for name in STUDY_PARAMETERS)


def test_a_notebook_run_by_papermill_writes_its_table_and_provenance(tmp_path):
    out_dir = tmp_path / "table1"
    papermill.execute_notebook(
        str(REPOSITORY_ROOT / "notebooks" / "02_lsp_ablation.ipynb"),
        str(tmp_path / "executed.ipynb"),
        parameters={"PRESET": "smoke", "OUT_DIR": str(out_dir), "SEEDS": [3, 4]},
        progress_bar=False,
        cwd=str(REPOSITORY_ROOT / "notebooks"),
    )
    table = pd.read_csv(out_dir / "table.csv")
    assert (
        len(table) == 8
        and list(table["losses"][:3]) == ["KPR only", "MR only", "combined"]
        and "(extra)" in table["losses"].iloc[-2]
        and table["losses"].iloc[-1] == TRIVIAL_LABEL
        and table["seeds"].tolist() == [2] * 8
    )
    runs = pd.read_csv(out_dir / "runs.csv")  # one row per configuration and seed
    assert len(runs) == 16 and sorted(set(runs["seed"])) == [3, 4]
    assert table["kpr_loss"].iloc[0] == pytest.approx(
        runs[runs["configuration"] == "KPR only without critic"]["kpr_loss"].mean(), abs=1e-6
    )
    assert table["kpr_loss_std"].iloc[:7].notna().all() and table["kpr_loss_std"].iloc[7] == 0  # the trivial: no seed
    assert " ± " in (out_dir / "table.md").read_text()
    for column in (
        "critic",
        "losses",
        "kpr_loss",
        "mr_loss",
        "pck_0.2",
        "silhouette_iou",
        "mpjpe_mm",
        "joints_outside_limits_pct",
        "paper_kpr_loss",
        "paper_mr_loss",
    ):
        assert column in table.columns, column
    assert table["paper_kpr_loss"].iloc[:6].notna().all() and table["paper_kpr_loss"].iloc[6:].isna().all()
    assert (out_dir / "table.md").read_text().startswith("| critic")
    provenance = json.loads((out_dir / "provenance.json").read_text())
    assert provenance["preset"]["name"] == "smoke" and provenance["parameters"]["SEEDS"] == [3, 4]
    assert len(provenance["body_model"]["sha256"]) == 64 and provenance["data"]["kind"] == "generated"
    assert provenance["train_seconds_all_configurations"] > 0
    ramp = [
        row for row in provenance["configurations"] if row["w_mr_ramp_fraction"] > 0
    ]  # the notebook's CRITIC and W_MR_RAMP_FRACTION, as run
    assert (
        len(provenance["configurations"]) == 14
        and len(ramp) == 2
        and ramp[0]["w_mr_ramp_fraction"] == 0.5
        and ramp[0]["critic"] == "with_rotation"
    )
    for key in ("git_commit", "device", "versions", "wall_seconds_this_invocation", "epochs"):
        assert key in provenance
    assert len(list((out_dir / "losses").glob("*.csv"))) == 14
    for name in ("table.png", "loss_curves.png", "overlays.png", "findings.csv", "versus_trivial.csv"):
        assert (out_dir / name).is_file(), name
    findings = (out_dir / "findings.md").read_text().splitlines()
    assert len([line for line in findings if line.startswith("- ")]) == 5
    assert all("paired t-test over seeds, 2 seeds" in line for line in findings if line.startswith("- "))
    assert len(pd.read_csv(out_dir / "versus_trivial.csv")) == 7 * 3  # every configuration on KPR, PCK, PA-MPJPE


def test_table_2_adds_a_pretrained_spin_format_checkpoint_as_its_own_row(tmp_path):
    import torch

    from hybridlib.models.spin_format import SpinFormatRegressor
    from hybridlib.studies import run_lspet_vs_hmr

    with pytest.raises(ParameterError, match=r"PRETRAINED_CHECKPOINT .*absent\.pt is not a file"):
        run_lspet_vs_hmr(
            resolve_settings("03_lspet_vs_hmr", OUT_DIR=str(tmp_path)), pretrained_checkpoint=tmp_path / "absent.pt"
        )
    checkpoint = tmp_path / "model_checkpoint.pt"
    torch.manual_seed(0)
    torch.save({"model": SpinFormatRegressor().state_dict()}, checkpoint)
    out_dir = tmp_path / "table2"
    papermill.execute_notebook(
        str(REPOSITORY_ROOT / "notebooks" / "03_lspet_vs_hmr.ipynb"),
        str(tmp_path / "executed.ipynb"),
        parameters={"PRESET": "smoke", "OUT_DIR": str(out_dir), "PRETRAINED_CHECKPOINT": str(checkpoint)},
        progress_bar=False,
        cwd=str(REPOSITORY_ROOT / "notebooks"),
    )
    table = pd.read_csv(out_dir / "table.csv")
    assert list(table["configuration"]) == [
        "KPR only",
        "combined",
        "HMR baseline",
        TRIVIAL_LABEL,
        "pretrained checkpoint (SPIN format, not trained here)",
    ]
    assert (
        pd.notna(table["kpr_loss"].iloc[4])
        and table["paper_kpr_loss"].iloc[3:].isna().all()
        and table["paper_kpr_loss"].iloc[:3].notna().all()
    )


def test_running_mean_averages_the_last_window_steps():
    assert running_mean(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    assert running_mean(np.array([5.0, 1.0]), 1).tolist() == [5.0, 1.0]


def test_redrawing_loss_curves_needs_a_known_study(tmp_path):
    settings = resolve_settings("02_lsp_ablation", PRESET="smoke", OUT_DIR=str(tmp_path))
    with pytest.raises(ValueError, match="unknown study 'table_9'"):
        draw_loss_curves("table_9", settings)
    with pytest.raises(
        FileNotFoundError, match=r"no loss logs .*kpr_only_without_critic_seed0\.csv.*run the study"
    ):  # nothing is drawn
        draw_loss_curves("02_lsp_ablation", settings)
    assert not (tmp_path / "loss_curves.png").exists()
