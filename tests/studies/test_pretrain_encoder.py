"""The shared encoder's pretraining: generated 3D truth + L_kpr, a learning curve, the encoder
written in float16 with its provenance, and a second call that resumes rather than retrains."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import torch

from hybridlib.evaluation.evaluate import load_trained
from hybridlib.models import Encoder
from hybridlib.models.encoder import encoder_origin, read_encoder_weights
from hybridlib.models.forward import NetworkConfig, build_networks
from hybridlib.models.regressor import regressor_origin, regressor_weights_path
from hybridlib.studies.pretrain_encoder import PretrainRecipe, main, pretrain_encoder
from hybridlib.training.loss_log import read_loss_log


def test_pretraining_writes_the_encoder_its_curve_and_provenance_and_resumes(generated_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path / "workspace"))
    recipe = PretrainRecipe(
        image_size=64, batch_size=4, epochs=2, evaluate_every_steps=4, evaluation_images=6, precision="fp32"
    )
    out = tmp_path / "encoder.pt"
    pretrain_encoder(recipe, out, data_dir=generated_root)

    curve_file = tmp_path / "workspace" / "results" / "pretrained_encoder" / "encoder.curve.csv"
    curve = pd.read_csv(curve_file)
    # 20 training images (6 LSP + 14 LSPET) / 4: 5 steps an epoch; every 4 steps, at the decay and the end
    assert curve["steps"].tolist() == [4, 5, 8, 10] and curve["images_seen"].tolist() == [16, 20, 32, 40]
    assert curve["lr"].tolist() == [recipe.lr, recipe.lr, recipe.lr * 0.1, recipe.lr * 0.1]
    assert curve["pa_mpjpe_mm"].between(1, 2000).all() and curve["pck_0.2"].between(0, 100).all()
    assert curve_file.with_suffix(".png").stat().st_size > 0
    run_dir = recipe.train_config(generated_root).out_dir
    log = read_loss_log(f"{run_dir}/losses.csv")
    assert len(log) == 10 and (log["loss_3d"] > 0).all() and (log["loss_mr"] == 0).all()

    provenance = json.loads(out.with_suffix(".json").read_text())
    assert provenance["summary"].startswith("pretrained on 20 generated images with 3D truth + L_kpr, 2 epochs")
    assert json.loads(provenance["recipe"])["w_3d"] == recipe.w_3d
    assert read_encoder_weights(out)["provenance"] == provenance
    assert provenance["summary"] in encoder_origin("resnet18", True, out)

    state = torch.load(f"{run_dir}/checkpoint.pt", weights_only=True)
    assert state["optimizer_generator"]["param_groups"][0]["lr"] == recipe.lr * 0.1  # the last epoch's
    trained, _, steps = load_trained(f"{run_dir}/checkpoint.pt", precision="fp32")
    loaded = Encoder("resnet18", weights_path=out)
    assert steps == 10
    for name, value in trained.model.encoder.network.state_dict().items():
        torch.testing.assert_close(loaded.network.state_dict()[name], value.half().to(value.dtype), msg=name)
    # the regressor it was trained with, beside it: a run started from the pair starts from the trained network
    regressor_file = regressor_weights_path(out)
    assert regressor_file == tmp_path / "encoder_regressor.pt"
    assert provenance["summary"] in regressor_origin(regressor_file)
    pair = NetworkConfig("resnet18", "none", encoder_weights=str(out), regressor_weights=str(regressor_file))
    started = build_networks(pair, trained.body_model).model.regressor.state_dict()
    for name, value in trained.model.regressor.state_dict().items():
        torch.testing.assert_close(started[name], value.half().to(value.dtype), msg=name)

    pretrain_encoder(recipe, out, data_dir=generated_root)  # again: resumed, nothing retrained or re-measured
    assert len(read_loss_log(f"{run_dir}/losses.csv")) == 10
    pd.testing.assert_frame_equal(pd.read_csv(curve_file), curve)


def test_each_recipe_trains_in_a_run_folder_of_its_own():
    base = PretrainRecipe()
    others = (
        replace(base, epochs=4),
        replace(base, data=replace(base.data, lspet=40000)),
        replace(base, lr=1e-4),
        replace(base, seed=1),
    )
    assert len({recipe.run_name() for recipe in (base, *others)}) == 5
    assert base.run_name().startswith("resnet18-128px-seed0-")
    # how often and on how many images it is measured does not change the training
    assert replace(base, evaluate_every_steps=1000, evaluation_images=50).run_name() == base.run_name()


@pytest.mark.parametrize("arguments", [["--lspet", "0"], ["--epochs", "0"]])
def test_the_command_refuses_empty_recipes(arguments, capsys):
    with pytest.raises(SystemExit):
        main(arguments)
    assert arguments[0] in capsys.readouterr().err
