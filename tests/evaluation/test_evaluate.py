"""The evaluation of a trained checkpoint end to end (one row with every metric), and of the
trivial predictor."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_runs import tiny_run_config

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.data import AugmentationConfig, DataConfig, build_dataset
from hybridlib.data.folders import MOSH_FOLDER
from hybridlib.data.mocap import read_mocap_folder
from hybridlib.evaluation import EvaluationConfig, evaluate, evaluate_checkpoint, evaluate_trivial
from hybridlib.models.forward import NetworkConfig, build_networks
from hybridlib.training import train


def test_evaluating_a_checkpoint_gives_one_row_with_every_metric(generated_root, tmp_path):
    config = tiny_run_config(generated_root, tmp_path / "run", use_lspet=False, max_steps=1, critic="without_rotation")
    train(config)
    row = evaluate_checkpoint(config.checkpoint_path, config=EvaluationConfig(progress=False, batch_size=4))
    assert len(row) == 1 and row["test_images"].item() == 6 and row["critic"].item() == "without_rotation"
    for column in (
        "kpr_loss",
        "mr_loss",
        "pck_0.2",
        "silhouette_iou",
        "joints_outside_limits_pct",
        "critic_score",
        "mpjpe_mm",
        "pa_mpjpe_mm",
        "kpr_loss_authors",
        "mr_loss_authors",
    ):
        assert math.isfinite(row[column].item()), column
    assert 0 <= row["silhouette_iou"].item() <= 1 and row["mpjpe_mm"].item() > row["pa_mpjpe_mm"].item()


def test_the_trivial_predictor_is_theta_0_as_every_run_starts_from_it(generated_root):
    """The no-image row equals a fresh network whose regressor adds nothing to Θ_0 (the MoSh
    mean pose and β), evaluated on the same test images."""
    evaluation = EvaluationConfig(progress=False, batch_size=4)
    trivial = evaluate_trivial(generated_root, OPEN_BODY_MODEL_LITE, 64, evaluation)
    assert trivial["steps"].item() == 0 and trivial["test_images"].item() == 6
    mocap = read_mocap_folder(generated_root / MOSH_FOLDER)
    body_model = BodyModel(OPEN_BODY_MODEL_LITE)
    networks = build_networks(
        NetworkConfig(backbone="resnet18", critic="none", pretrained=False),
        body_model,
        torch.from_numpy(mocap.poses[:, 3:]).mean(dim=0),
        torch.from_numpy(mocap.betas).mean(dim=0),
    )
    last = networks.model.regressor.mlp[-1]
    torch.nn.init.zeros_(last.weight)  # every stage adds 0: Θ = Θ_0, whatever the image
    dataset = build_dataset(
        DataConfig(root=generated_root, augmentation=AugmentationConfig(image_size=64, augment=False)), "test"
    )
    untrained = evaluate(networks, dataset, evaluation)
    for column in ("kpr_loss", "mr_loss", "pck_0.2", "pa_mpjpe_mm", "joints_outside_limits_pct"):
        assert math.isfinite(untrained[column]) and trivial[column].item() == pytest.approx(untrained[column], abs=1e-4)
