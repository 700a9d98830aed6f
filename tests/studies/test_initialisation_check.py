"""The initialisation check: one Table-1 configuration fine-tuned from one pretrained pair (encoder
and regressor) in four ways — encoder frozen with the pretrained or a fresh regressor, end to end
with a fresh regressor, the whole network end to end — measured from step 0, where the starts
with the pretrained regressor are that pretrained network."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pandas as pd
import pytest
import torch

from hybridlib.models import Encoder, IterativeRegressor
from hybridlib.models.encoder import save_encoder_weights
from hybridlib.models.regressor import regressor_weights_path, save_regressor_weights
from hybridlib.studies.initialisation_check import FIRST_ENCODER, STARTS, InitialisationCheck, fine_tuning_curves
from hybridlib.studies.presets import ParameterError
from hybridlib.studies.studies import table_1_specs
from hybridlib.training.loss_log import read_loss_log


@pytest.fixture
def pretrained_pair(tmp_path):
    """A stand-in for make pretrained-encoder's pair: random resnet18 weights and a regressor
    unlike a fresh one (its last layer and Θ_0 moved)."""
    torch.manual_seed(3)
    encoder = Encoder("resnet18", pretrained=False)
    encoder_file = save_encoder_weights(encoder, tmp_path / "pair" / "encoder.pt", {"summary": "stand-in"})
    regressor = IterativeRegressor(encoder.feature_dim)
    torch.nn.init.normal_(regressor.mlp[-1].weight, std=0.01)
    regressor.initial_theta.data[:, 3:6] += 0.2
    save_regressor_weights(regressor, regressor_weights_path(encoder_file), encoder_file, {"summary": "stand-in"})
    return encoder_file


def test_every_start_is_measured_from_step_0_and_a_second_call_retrains_nothing(tmp_path, monkeypatch, pretrained_pair):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path / "workspace"))
    check = InitialisationCheck(preset="smoke", every_steps=1, evaluation_images=6)

    curves = fine_tuning_curves(check, pretrained_pair)

    pretrained, frozen, end_to_end, whole = (start.label for start in STARTS)
    assert curves["start"].tolist() == [pretrained] * 3 + [frozen] * 3 + [end_to_end] * 3 + [whole] * 3
    assert set(curves["configuration"]) == {"combined without critic"} and set(curves["seed"]) == {0}
    (encoder,) = set(curves["encoder"])
    assert encoder.startswith("encoder.pt (sha256 ")
    assert curves["steps"].tolist() == [0, 1, 2] * 4  # 8 training images, batch 4, 1 epoch
    at = {(row["start"], row["steps"]): row for _, row in curves.iterrows()}
    # step 0: the pretrained regressor's starts are one network, the fresh regressor's another
    assert at[pretrained, 0]["kpr_loss"] == at[whole, 0]["kpr_loss"]
    assert at[frozen, 0]["kpr_loss"] == at[end_to_end, 0]["kpr_loss"]
    assert at[pretrained, 0]["kpr_loss"] != pytest.approx(at[frozen, 0]["kpr_loss"])
    # trained: frozen and end to end part ways
    assert at[frozen, 2]["kpr_loss"] != at[end_to_end, 2]["kpr_loss"]
    assert at[pretrained, 2]["kpr_loss"] != at[whole, 2]["kpr_loss"]
    assert curves["precision"].isin(["fp32", "bf16-mixed"]).all()
    assert curves["machine"].nunique() == 1
    out = tmp_path / "workspace" / "results" / "initialisation_check" / "smoke"
    pd.testing.assert_frame_equal(pd.read_csv(out / "curves.csv"), curves)
    assert (out / "curves.png").stat().st_size > 0 and len(pd.read_csv(out / "trivial.csv")) == 1
    compared = (out / "starts_compared.md").read_text()
    assert f"encoder {encoder}" in compared and compared.count("| 2 | 1 |") == 4  # each start, step 2, 1 seed
    assert compared.count("INCONCLUSIVE") == 2  # one seed: no interval
    logs = sorted((tmp_path / "workspace" / "runs" / "initialisation_check").rglob("losses.csv"))
    assert [len(read_loss_log(log)) for log in logs] == [2, 2, 2, 2]

    again = fine_tuning_curves(check, pretrained_pair)
    pd.testing.assert_frame_equal(again, curves)
    assert [len(read_loss_log(log)) for log in logs] == [2, 2, 2, 2]
    # one start measured alone: the other starts' rows are kept from the file, in order
    shutil.rmtree(tmp_path / "workspace" / "runs" / "initialisation_check" / "smoke" / "frozen")
    alone = fine_tuning_curves(replace(check, starts=("frozen",)), pretrained_pair)
    retrained = ["training_seconds"]  # the frozen start's runs again: their timings differ
    pd.testing.assert_frame_equal(alone.drop(columns=retrained), curves.drop(columns=retrained))

    # another seed: its rows join the first seed's, and the starts are compared over both
    fine_tuning_curves(replace(check, seed=1, starts=("frozen-pretrained", "frozen", "end-to-end")), pretrained_pair)
    compared = (out / "starts_compared.md").read_text()
    assert compared.count("95% CI [") >= 2 and "2 seeds" in compared

    # a file written before the check named configurations, seeds and encoders: the first encoder's rows
    curves.drop(columns=["configuration", "seed", "encoder"]).to_csv(out / "curves.csv", index=False)
    kept = fine_tuning_curves(replace(check, starts=("frozen",)), pretrained_pair)
    assert kept.groupby("encoder")["start"].apply(list).to_dict() == {
        FIRST_ENCODER: curves["start"].tolist(), encoder: [frozen] * 3
    }  # fmt: skip
    assert "not both measured" in (out / "starts_compared.md").read_text()  # this encoder's rows only


def test_a_configuration_that_ramps_w_mr_a_missing_regressor_or_an_unknown_start_is_refused(
    tmp_path, monkeypatch, pretrained_pair
):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path))
    ramped = next(spec.label for _, _, spec in table_1_specs() if spec.w_mr_ramp_fraction)
    with pytest.raises(FileNotFoundError, match="make pretrained-encoder"):
        fine_tuning_curves(InitialisationCheck(preset="smoke"), tmp_path / "absent.pt")
    with pytest.raises(ParameterError, match="starts from no pretrained pair: pass --encoder"):
        fine_tuning_curves(InitialisationCheck(preset="smoke"))
    with pytest.raises(ParameterError, match="starts must be some of"):
        fine_tuning_curves(InitialisationCheck(preset="smoke", starts=("imagenet",)), pretrained_pair)
    with pytest.raises(ParameterError, match="ramps w_mr"):
        fine_tuning_curves(InitialisationCheck(ramped, preset="smoke"), pretrained_pair)
    regressor_weights_path(pretrained_pair).unlink()
    with pytest.raises(FileNotFoundError, match=r"regressor .*encoder_regressor\.pt is missing"):
        fine_tuning_curves(InitialisationCheck(preset="smoke"), pretrained_pair)
