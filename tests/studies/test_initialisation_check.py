"""The initialisation check: one Table-1 configuration fine-tuned from the shared encoder (frozen,
and trained end to end) and from a whole pretrained network, measured from step 0; the whole
network's step 0 is that network."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pandas as pd
import pytest

from hybridlib.evaluation.evaluate import EvaluationConfig, evaluate_checkpoint
from hybridlib.studies.initialisation_check import STARTS, InitialisationCheck, fine_tuning_curves
from hybridlib.studies.presets import ParameterError, resolve_settings
from hybridlib.studies.runner import ensure_data, train_config
from hybridlib.studies.studies import table_1_specs
from hybridlib.training.loop import write_initial_checkpoint
from hybridlib.training.loss_log import read_loss_log


def test_both_starts_are_measured_from_step_0_and_a_second_call_retrains_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path / "workspace"))
    settings = resolve_settings("02_lsp_ablation", PRESET="smoke")
    spec = next(spec for _, _, spec in table_1_specs() if spec.label == "combined without critic")
    data_dir = ensure_data(settings, progress=False)
    # a stand-in for the pretraining run: the same architecture, other weights (another seed)
    pretrained = train_config(settings, replace(spec, seed=7), data_dir, progress=False)
    pretrained = replace(pretrained, out_dir=str(tmp_path / "pretrained"), precision="fp32")
    write_initial_checkpoint(pretrained)
    check = InitialisationCheck(preset="smoke", every_steps=1, evaluation_images=6)

    curves = fine_tuning_curves(check, pretrained.checkpoint_path)

    frozen, end_to_end, whole = (start.label for start in STARTS)
    assert curves["start"].tolist() == [frozen] * 3 + [end_to_end] * 3 + [whole] * 3
    assert set(curves["configuration"]) == {"combined without critic"} and set(curves["seed"]) == {0}
    assert curves["steps"].tolist() == [0, 1, 2] * 3  # 8 training images, batch 4, 1 epoch
    at = {(row["start"], row["steps"]): row for _, row in curves.iterrows()}
    source = evaluate_checkpoint(pretrained.checkpoint_path, config=EvaluationConfig(max_images=6, progress=False))
    assert at[whole, 0]["pck_0.2"] == pytest.approx(source.iloc[0]["pck_0.2"])
    assert at[whole, 0]["kpr_loss"] == pytest.approx(source.iloc[0]["kpr_loss"])
    assert at[end_to_end, 0]["kpr_loss"] != pytest.approx(at[whole, 0]["kpr_loss"])
    assert at[frozen, 0]["kpr_loss"] == at[end_to_end, 0]["kpr_loss"]  # one start, two ways of fine-tuning it
    assert at[frozen, 2]["kpr_loss"] != at[end_to_end, 2]["kpr_loss"]
    assert set(curves["precision"]) == {"fp32"} and curves["machine"].nunique() == 1
    out = tmp_path / "workspace" / "results" / "initialisation_check" / "smoke"
    pd.testing.assert_frame_equal(pd.read_csv(out / "curves.csv"), curves)
    assert (out / "curves.png").stat().st_size > 0 and len(pd.read_csv(out / "trivial.csv")) == 1
    logs = sorted((tmp_path / "workspace" / "runs" / "initialisation_check").rglob("losses.csv"))
    assert [len(read_loss_log(log)) for log in logs] == [2, 2, 2]

    again = fine_tuning_curves(check, pretrained.checkpoint_path)
    pd.testing.assert_frame_equal(again, curves)
    assert [len(read_loss_log(log)) for log in logs] == [2, 2, 2]
    # one start measured alone: the other starts' rows are kept from the file, in order
    shutil.rmtree(tmp_path / "workspace" / "runs" / "initialisation_check" / "smoke" / "frozen")
    written_before_seeds = curves.drop(columns=["configuration", "seed"])  # as the check wrote it before
    written_before_seeds.to_csv(out / "curves.csv", index=False)
    alone = fine_tuning_curves(replace(check, starts=("frozen",)), tmp_path / "absent.pt")
    retrained = ["training_seconds"]  # the frozen start's runs again: their timings differ
    pd.testing.assert_frame_equal(alone.drop(columns=retrained), curves.drop(columns=retrained))
    assert "INCONCLUSIVE" in (out / "frozen_vs_end_to_end.md").read_text()  # one seed: no interval

    # another seed: its rows join the first seed's, and the two starts are compared over both
    both = fine_tuning_curves(replace(check, seed=1, starts=("frozen", "end-to-end")), tmp_path / "absent.pt")
    assert both.groupby("seed")["start"].apply(list).to_dict() == {
        0: [frozen] * 3 + [end_to_end] * 3 + [whole] * 3, 1: [frozen] * 3 + [end_to_end] * 3
    }  # fmt: skip
    comparison = (out / "frozen_vs_end_to_end.md").read_text()
    assert "PCK@0.2 (%)" in comparison and "95% CI [" in comparison and "2 seeds" in comparison


def test_a_configuration_that_ramps_w_mr_or_a_missing_pretraining_run_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path))
    ramped = next(spec.label for _, _, spec in table_1_specs() if spec.w_mr_ramp_fraction)
    with pytest.raises(FileNotFoundError, match="make pretrained-encoder"):
        fine_tuning_curves(InitialisationCheck(preset="smoke"), tmp_path / "absent.pt")
    with pytest.raises(ParameterError, match="starts must be some of"):
        fine_tuning_curves(InitialisationCheck(preset="smoke", starts=("imagenet",)), tmp_path / "absent.pt")
    (tmp_path / "some.pt").write_bytes(b"")
    with pytest.raises(ParameterError, match="ramps w_mr"):
        fine_tuning_curves(InitialisationCheck(ramped, preset="smoke"), tmp_path / "some.pt")
