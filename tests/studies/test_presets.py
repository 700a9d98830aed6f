"""Presets and the validation of notebook parameters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hybridlib.models import IterativeRegressor
from hybridlib.models.encoder import BACKBONES, read_encoder_weights
from hybridlib.models.regressor import load_regressor_weights
from hybridlib.studies import PRESETS, ParameterError, resolve_settings
from hybridlib.studies.presets import PRETRAINED_ENCODER, PRETRAINED_REGRESSOR
from hybridlib.training import TrainConfig


def test_unknown_presets_and_wrong_types_stop_with_the_valid_choices(tmp_path):
    with pytest.raises(ParameterError, match=r"PRESET must be one of \['cpu', 'demo', 'paper', 'smoke'\], got 'fast'"):
        resolve_settings("02_lsp_ablation", PRESET="fast")
    with pytest.raises(ParameterError, match="EPOCHS must be a positive int or None, got '3'"):
        resolve_settings("02_lsp_ablation", EPOCHS="3")
    for seeds in (True, [], [0, 1.5], "0,1", 0):
        with pytest.raises(ParameterError, match="SEEDS must"):
            resolve_settings("02_lsp_ablation", SEEDS=seeds)
    with pytest.raises(ParameterError, match=r"SEEDS must not repeat a seed, got \[1, 1\]"):
        resolve_settings("02_lsp_ablation", SEEDS=[1, 1])
    with pytest.raises(ParameterError, match="DATA_DIR .* is not a folder"):
        resolve_settings("02_lsp_ablation", DATA_DIR=str(tmp_path / "nowhere"))
    with pytest.raises(ParameterError, match="DEVICE must be"):
        resolve_settings("02_lsp_ablation", DEVICE="gpu")
    assert resolve_settings("02_lsp_ablation", PRESET="cpu").seeds == PRESETS["cpu"].seeds == (0, 1, 2)
    assert resolve_settings("02_lsp_ablation", SEEDS=3).seeds == (0, 1, 2)  # N: seeds 0 … N−1
    assert resolve_settings("02_lsp_ablation", SEEDS=[5, 2]).parameters["SEEDS"] == [5, 2]
    settings = resolve_settings("02_lsp_ablation", PRESET="cpu", EPOCHS=4, OUT_DIR=str(tmp_path))
    assert (
        settings.preset.epochs_lsp == 4
        and settings.preset.backbone == PRESETS["cpu"].backbone
        and settings.out_dir == tmp_path
    )


def test_the_paper_preset_holds_the_authors_settings():
    paper = PRESETS["paper"]
    assert (paper.backbone, paper.image_size, paper.batch_size, paper.epochs_lsp, paper.epochs_lspet) == (
        "resnet50",
        224,
        8,
        120,
        120,
    )
    defaults = TrainConfig(data_root=".", out_dir=".")
    assert (defaults.w_kpr, defaults.w_mr, defaults.w_critic, defaults.lr_generator, defaults.lr_critic) == (
        60.0,
        0.001,
        0.01,
        1e-4,
        5e-4,
    )


def test_presets_train_in_auto_precision_and_precision_can_be_set_per_study(tmp_path):
    assert {preset.precision for preset in PRESETS.values()} == {"auto"}
    settings = resolve_settings("01_overfit_8_images", PRESET="cpu", PRECISION="bf16-mixed", OUT_DIR=str(tmp_path))
    assert settings.preset.precision == "bf16-mixed" and settings.parameters["PRECISION"] == "bf16-mixed"
    with pytest.raises(ParameterError, match=r"PRECISION must be one of \('fp32', 'bf16-mixed', 'auto'\)"):
        resolve_settings("01_overfit_8_images", PRECISION="fp16", OUT_DIR=str(tmp_path))


@pytest.mark.parametrize("part", ["encoder", "regressor"])
def test_the_cpu_preset_starts_from_the_committed_pair_and_refuses_to_run_without_either(monkeypatch, tmp_path, part):
    assert PRESETS["cpu"].encoder_weights == str(PRETRAINED_ENCODER)
    assert PRESETS["cpu"].regressor_weights == str(PRETRAINED_REGRESSOR)
    encoder = read_encoder_weights(PRETRAINED_ENCODER)
    assert encoder["backbone"] == PRESETS["cpu"].backbone
    feature_dim = BACKBONES[encoder["backbone"]][2]
    load_regressor_weights(IterativeRegressor(feature_dim), PRETRAINED_REGRESSOR, PRETRAINED_ENCODER)  # together
    missing = replace(PRESETS["cpu"], **{f"{part}_weights": str(tmp_path / "gone.pt")})
    monkeypatch.setitem(PRESETS, "cpu", missing)
    with pytest.raises(ParameterError, match=rf"the {part} .*gone\.pt, which is missing: .*make pretrained-encoder"):
        resolve_settings("02_lsp_ablation", PRESET="cpu")
