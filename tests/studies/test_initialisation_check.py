"""The initialisation check: one Table-1 configuration fine-tuned from the shared encoder and from
a whole pretrained network, measured from step 0; the whole network's step 0 is that network."""

from __future__ import annotations

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

    assert curves["start"].tolist() == [STARTS[0]] * 3 + [STARTS[1]] * 3
    assert curves["steps"].tolist() == [0, 1, 2] * 2  # 8 training images, batch 4, 1 epoch
    whole_at_0 = curves[(curves["start"] == STARTS[1]) & (curves["steps"] == 0)].iloc[0]
    source = evaluate_checkpoint(pretrained.checkpoint_path, config=EvaluationConfig(max_images=6, progress=False))
    assert whole_at_0["pck_0.2"] == pytest.approx(source.iloc[0]["pck_0.2"])
    assert whole_at_0["kpr_loss"] == pytest.approx(source.iloc[0]["kpr_loss"])
    encoder_at_0 = curves[(curves["start"] == STARTS[0]) & (curves["steps"] == 0)].iloc[0]
    assert encoder_at_0["kpr_loss"] != pytest.approx(whole_at_0["kpr_loss"])
    out = tmp_path / "workspace" / "results" / "initialisation_check" / "smoke"
    pd.testing.assert_frame_equal(pd.read_csv(out / "curves.csv"), curves)
    assert (out / "curves.png").stat().st_size > 0 and len(pd.read_csv(out / "trivial.csv")) == 1
    logs = sorted((tmp_path / "workspace" / "runs" / "initialisation_check").rglob("losses.csv"))
    assert [len(read_loss_log(log)) for log in logs] == [2, 2]

    again = fine_tuning_curves(check, pretrained.checkpoint_path)
    pd.testing.assert_frame_equal(again, curves)
    assert [len(read_loss_log(log)) for log in logs] == [2, 2]


def test_a_configuration_that_ramps_w_mr_or_a_missing_pretraining_run_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path))
    ramped = next(spec.label for _, _, spec in table_1_specs() if spec.w_mr_ramp_fraction)
    with pytest.raises(FileNotFoundError, match="make pretrained-encoder"):
        fine_tuning_curves(InitialisationCheck(preset="smoke"), tmp_path / "absent.pt")
    (tmp_path / "some.pt").write_bytes(b"")
    with pytest.raises(ParameterError, match="ramps w_mr"):
        fine_tuning_curves(InitialisationCheck(ramped, preset="smoke"), tmp_path / "some.pt")
