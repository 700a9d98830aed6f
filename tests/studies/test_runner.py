"""A study's configurations: each row's TrainConfig (preset + row + seed) in a folder of its own,
the data it uses, and the copied loss logs the curves are drawn from."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from hybridlib import paths
from hybridlib.data.check import DataCheckError
from hybridlib.studies import resolve_settings, runner
from hybridlib.studies.runner import RunSpec, ensure_data, loss_curves, over_seeds, train_config
from hybridlib.studies.studies import overfit_groups, table_1_specs, table_2_specs
from hybridlib.training.loss_log import LOG_COLUMNS


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.HOME_VARIABLE, str(tmp_path / "workspace"))
    return resolve_settings("02_lsp_ablation", PRESET="smoke", OUT_DIR=str(tmp_path / "out"))


def test_a_configuration_takes_the_preset_the_row_and_the_seed(settings, tmp_path):
    preset = settings.preset
    spec = RunSpec("MR only", critic="with_rotation", w_kpr=0.0, seed=2)
    assert spec.slug == "mr_only_seed2"
    config = train_config(settings, spec, tmp_path / "data", progress=False)
    assert (config.backbone, config.image_size, config.batch_size, config.body_model) == (
        preset.backbone,
        preset.image_size,
        preset.batch_size,
        preset.body_model,
    )
    assert (config.critic, config.w_kpr, config.seed, config.data_root) == (
        "with_rotation",
        0.0,
        2,
        str(tmp_path / "data"),
    )
    assert config.epochs == preset.epochs_lsp and config.max_steps == preset.max_steps
    lspet = train_config(settings, replace(spec, use_lspet=True), tmp_path / "data", progress=False)
    assert lspet.use_lspet and lspet.epochs == preset.epochs_lspet
    fixed = train_config(settings, replace(spec, steps=7, batch_size=2), tmp_path / "data", progress=False)
    assert fixed.max_steps == 7 and fixed.epochs >= 10**9 and fixed.batch_size == 2


def test_every_configuration_runs_once_per_seed_seed_by_seed():
    specs = over_seeds([RunSpec("KPR only"), RunSpec("combined")], (4, 7))
    assert [(spec.label, spec.seed) for spec in specs] == [
        ("KPR only", 4), ("combined", 4), ("KPR only", 7), ("combined", 7)
    ]  # fmt: skip
    assert [spec.slug for spec in specs[:2]] == ["kpr_only_seed4", "combined_seed4"]


def test_runs_differing_in_any_setting_never_share_a_folder(settings, tmp_path):
    spec = RunSpec("combined")
    folder = Path(train_config(settings, spec, tmp_path / "data", progress=False).out_dir)
    assert folder.parent == tmp_path / "workspace" / "runs" / "02_lsp_ablation" / "smoke"
    assert folder.name.startswith("combined_seed0-")
    assert train_config(settings, spec, tmp_path / "data", progress=True).out_dir == str(folder)  # progress: same run
    others = {
        train_config(settings, replace(spec, w_mr_ramp_fraction=0.5), tmp_path / "data").out_dir,
        train_config(settings, replace(spec, augment=False), tmp_path / "data").out_dir,
        train_config(settings, replace(spec, seed=11), tmp_path / "data").out_dir,
        train_config(settings, spec, tmp_path / "other data").out_dir,
        train_config(
            replace(settings, preset=replace(settings.preset, freeze_encoder=True)), spec, tmp_path / "data"
        ).out_dir,
    }
    assert len(others) == 5 and str(folder) not in others


def test_a_moved_workspace_finds_its_runs_by_the_content_of_their_data_and_body_model(settings, tmp_path):
    def run_name(place: str, generator_config: str = '{"lsp": 16, "seed": 0}', body_extra: bytes = b"") -> str:
        data = tmp_path / place / "data" / "generated-lsp16"
        data.mkdir(parents=True, exist_ok=True)
        (data / "generator_config.json").write_text(generator_config)
        body_model = tmp_path / place / "body.npz"
        body_model.write_bytes(Path(settings.preset.body_model).read_bytes() + body_extra)
        moved = replace(settings, preset=replace(settings.preset, body_model=str(body_model)))
        return Path(train_config(moved, RunSpec("combined"), data).out_dir).name

    assert run_name("first") == run_name("moved")
    assert run_name("other seed", generator_config='{"lsp": 16, "seed": 1}') != run_name("first")
    assert run_name("rebuilt body model", body_extra=b"other") != run_name("first")


def test_runs_that_may_train_in_bf16_never_share_a_folder_with_runs_of_another_bf16_scope(
    settings, tmp_path, monkeypatch
):
    spec = RunSpec("combined")
    in_precision = {
        precision: replace(settings, preset=replace(settings.preset, precision=precision))
        for precision in ("auto", "bf16-mixed", "fp32")
    }
    folders = {precision: train_config(at, spec, tmp_path).out_dir for precision, at in in_precision.items()}
    monkeypatch.setattr(runner, "BF16_MIXED_SCOPE", "encoder")  # as before the regressor and critic joined it
    for precision in ("auto", "bf16-mixed"):
        assert train_config(in_precision[precision], spec, tmp_path).out_dir != folders[precision]
    assert train_config(in_precision["fp32"], spec, tmp_path).out_dir == folders["fp32"]  # fp32: no bf16 at all


@pytest.mark.parametrize("part", ["encoder_weights", "regressor_weights"])
def test_runs_from_another_encoder_or_regressor_file_never_share_a_folder_whatever_its_path(settings, tmp_path, part):
    spec = RunSpec("combined")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"first build")
    with_weights = replace(settings, preset=replace(settings.preset, **{part: str(weights)}))
    first = train_config(with_weights, spec, tmp_path / "data").out_dir
    assert getattr(train_config(with_weights, spec, tmp_path / "data"), part) == str(weights)
    assert first != train_config(settings, spec, tmp_path / "data").out_dir
    weights.write_bytes(b"a rebuilt file")  # same path, new content: a new folder
    assert train_config(with_weights, spec, tmp_path / "data").out_dir != first
    moved = tmp_path / "elsewhere.pt"
    weights.rename(moved)
    moved.write_bytes(b"first build")  # the first content at another path: its folder again
    at_new_path = replace(settings, preset=replace(settings.preset, **{part: str(moved)}))
    assert train_config(at_new_path, spec, tmp_path / "data").out_dir == first


def test_a_given_data_folder_is_checked_and_used_as_it_is(settings, tmp_path, generated_root):
    data_dir = tmp_path / "my data"
    shutil.copytree(generated_root, data_dir)
    assert ensure_data(replace(settings, data_dir=data_dir), progress=False) == data_dir
    assert not (tmp_path / "workspace").exists()  # nothing generated
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataCheckError, match=r"empty cannot be used: lsp \(absent\), up-s1h \(absent\), mosh"):
        ensure_data(replace(settings, data_dir=empty), progress=False)


def test_loss_curves_read_the_copied_logs_and_name_the_missing_ones(settings):
    specs = [RunSpec("KPR only"), RunSpec("combined")]
    losses = settings.out_dir / "losses"
    losses.mkdir(parents=True)
    (losses / "kpr_only_seed0.csv").write_text(
        pd.DataFrame([{"step": 0, "epoch": 0, "loss_total": 1.5, "loss_kpr": 1.5, "seconds": 0.1}])
        .reindex(columns=list(LOG_COLUMNS))
        .to_csv(index=False)
    )
    with pytest.raises(FileNotFoundError, match=r"no loss logs \['combined_seed0\.csv'\] in .*losses: run the study"):
        loss_curves(settings, specs)
    curves = loss_curves(settings, specs[:1])
    assert list(curves) == ["kpr_only_seed0"] and curves["kpr_only_seed0"]["loss_total"].tolist() == [1.5]


def test_the_cpu_preset_freezes_the_encoder_in_the_tables_and_not_in_the_8_image_study(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.HOME_VARIABLE, str(tmp_path / "workspace"))
    table_1 = resolve_settings("02_lsp_ablation", PRESET="cpu")
    shared = str(tmp_path / "workspace" / "runs" / runner.ENCODER_FEATURES_FOLDER)  # the frozen runs' stored features
    for config in [train_config(table_1, spec, tmp_path) for _, _, spec in table_1_specs()]:
        assert config.freeze_encoder and config.encoder_features_dir == shared
    table_2 = resolve_settings("03_lspet_vs_hmr", PRESET="cpu")
    for config in [train_config(table_2, spec, tmp_path) for spec in table_2_specs()]:
        assert config.freeze_encoder and config.encoder_features_dir == shared
    overfit = resolve_settings("01_overfit_8_images", PRESET="cpu")
    overfit_specs = [spec for group in overfit_groups(overfit).values() for spec in group]
    for config in [train_config(overfit, spec, tmp_path) for spec in overfit_specs]:
        assert not config.freeze_encoder and config.encoder_features_dir is None
    paper = resolve_settings("02_lsp_ablation", PRESET="paper")
    assert not train_config(paper, RunSpec("combined"), tmp_path).freeze_encoder


def test_where_the_encoder_features_are_shared_does_not_name_the_run_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.HOME_VARIABLE, str(tmp_path / "workspace"))
    config = train_config(resolve_settings("02_lsp_ablation", PRESET="cpu"), RunSpec("combined"), tmp_path)
    assert config.encoder_features_dir is not None
    elsewhere = replace(config, encoder_features_dir=str(tmp_path / "elsewhere"))
    assert runner._fingerprinted(elsewhere) == runner._fingerprinted(replace(config, encoder_features_dir=None))
