"""The generator's loss L_comb = w_kpr·L_kpr + w_mr·L_mr + w_critic·L_adv and w_mr's schedule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_runs import tiny_run_config

from hybridlib.body_model import BodyModel
from hybridlib.data import AugmentationConfig, DataConfig, build_dataset, collate_samples
from hybridlib.data.folders import MOSH_FOLDER
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.losses import keypoint_reprojection_loss, mesh_reprojection_loss
from hybridlib.losses.adversarial import adversarial_losses
from hybridlib.losses.silhouette import reference_pixel_scale
from hybridlib.models.forward import build_networks
from hybridlib.training import TrainConfig
from hybridlib.training.generator_step import generator_losses, mesh_loss_weight


@pytest.fixture(scope="module")
def batch(generated_root):
    crops = AugmentationConfig(image_size=64, augment=False)
    dataset = build_dataset(DataConfig(root=generated_root, use_lspet=True, augmentation=crops), "train", seed=0)
    return collate_samples([dataset[index] for index in range(4)])


def _losses(config: TrainConfig, batch, w_mr: float | None = None):
    """generator_losses on the batch, with networks built as the training loop builds them."""
    torch.manual_seed(0)
    body_model = BodyModel(config.body_model)
    sampler = RealBodySampler(Path(config.data_root) / MOSH_FOLDER, body_model, config.seed)
    torch.manual_seed(config.seed)
    networks = build_networks(config.networks, body_model, *sampler.mean_body_pose_and_betas())
    networks.model.train()
    thetas = [theta.float() for theta in networks.model(batch.image)]
    adversary = adversarial_losses(config.critic)
    loss, logs, pred = generator_losses(config, thetas, batch, networks, adversary, w_mr=w_mr)
    return loss, logs, pred, thetas, networks, adversary


def test_mesh_loss_weight_is_constant_without_a_ramp():
    config = TrainConfig(data_root=".", out_dir=".", w_mr=0.002)
    assert [mesh_loss_weight(config, step, 100) for step in (0, 1, 50, 99)] == [0.002] * 4


def test_mesh_loss_weight_rises_linearly_over_the_ramp_fraction_then_stays():
    config = TrainConfig(data_root=".", out_dir=".", w_mr=0.002, w_mr_ramp_fraction=0.5)  # ramp: 50 of 100 steps
    ramp = [mesh_loss_weight(config, step, 100) for step in range(50)]
    assert (
        ramp[0] == pytest.approx(0.002 / 50) and ramp[24] == pytest.approx(0.001) and ramp[-1] == pytest.approx(0.002)
    )
    assert [b - a for a, b in zip(ramp, ramp[1:], strict=False)] == pytest.approx([0.002 / 50] * 49)  # linear
    assert [mesh_loss_weight(config, step, 100) for step in (50, 75, 99)] == [0.002] * 3


def test_the_mesh_loss_weight_schedule_ramps_then_stays():
    config = TrainConfig(data_root=".", out_dir=".", w_mr_ramp_fraction=0.5)
    weights = [mesh_loss_weight(config, step, 10) for step in range(10)]
    assert weights[0] == pytest.approx(0.0002) and weights[4:] == [pytest.approx(0.001)] * 6
    assert mesh_loss_weight(TrainConfig(data_root=".", out_dir="."), 0, 10) == 0.001


def test_without_the_mesh_loss_it_logs_zero_and_skips_the_mesh(generated_root, tmp_path, batch):
    loss, logs, pred, *_ = _losses(tiny_run_config(generated_root, tmp_path, critic="hmr", w_mr=0.0), batch)
    assert logs["loss_mr"] == 0.0 and pred.vertices_px is None and pred.output.vertices is None
    assert logs["loss_kpr"] > 0 and logs["loss_adversarial"] > 0  # HMR's discriminator: (D(fake) − 1)² > 0
    assert loss.requires_grad


def test_without_a_critic_it_logs_a_zero_adversarial_loss(generated_root, tmp_path, batch):
    config = tiny_run_config(generated_root, tmp_path, critic="none")
    _, logs, pred, _, networks, adversary = _losses(config, batch)
    assert networks.critic is None and adversary is None
    assert logs["loss_adversarial"] == 0.0 and logs["loss_mr"] > 0 and pred.vertices_px is not None
    assert logs["loss_total"] == pytest.approx(
        config.w_kpr * logs["loss_kpr"] + config.w_mr * logs["loss_mr"], rel=1e-5
    )


@pytest.mark.parametrize("critic", ["with_rotation", "hmr"])
def test_the_total_is_the_weighted_sum_of_the_logged_parts(generated_root, tmp_path, batch, critic):
    config = tiny_run_config(generated_root, tmp_path, critic=critic, w_mr=0.001)
    loss, logs, pred, _, networks, adversary = _losses(config, batch)
    assert all(logs[name] != 0 for name in ("loss_kpr", "loss_mr", "loss_adversarial"))
    expected = (
        config.w_kpr * logs["loss_kpr"] + config.w_mr * logs["loss_mr"] + config.w_critic * logs["loss_adversarial"]
    )
    assert logs["loss_total"] == pytest.approx(expected, rel=1e-5) and loss.item() == logs["loss_total"]
    # each part is the loss it names, on the last stage's prediction
    assert logs["loss_kpr"] == pytest.approx(keypoint_reprojection_loss(pred.keypoints_2d, batch.keypoints_2d).item())
    mesh = mesh_reprojection_loss(pred.vertices_px, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest)
    assert logs["loss_mr"] == pytest.approx(reference_pixel_scale(64) * mesh.item(), rel=1e-5)
    assert logs["loss_adversarial"] == pytest.approx(adversary.generator(networks.critic(pred.body)).item(), rel=1e-5)


def test_a_scheduled_mesh_weight_replaces_the_configured_one(generated_root, tmp_path, batch):
    config = tiny_run_config(generated_root, tmp_path, critic="none", w_mr=0.001)
    _, logs, *_ = _losses(config, batch, w_mr=0.0004)
    assert logs["loss_mr"] > 0
    assert logs["loss_total"] == pytest.approx(config.w_kpr * logs["loss_kpr"] + 0.0004 * logs["loss_mr"], rel=1e-5)


def test_losses_on_all_stages_are_the_mean_of_each_stages_losses(generated_root, tmp_path, batch):
    config = tiny_run_config(generated_root, tmp_path, critic="without_rotation", w_mr=0.001, loss_on_all_stages=True)
    _, logs, pred, thetas, networks, adversary = _losses(config, batch)
    last_stage_only = replace(config, loss_on_all_stages=False)
    per_stage = [generator_losses(last_stage_only, [theta], batch, networks, adversary)[1] for theta in thetas]
    assert len(per_stage) == config.num_stages == 3
    for name in ("loss_kpr", "loss_mr", "loss_adversarial", "loss_total"):
        assert logs[name] == pytest.approx(sum(stage[name] for stage in per_stage) / 3, rel=1e-5), name
    final = generator_losses(last_stage_only, thetas, batch, networks, adversary)[2]
    torch.testing.assert_close(pred.keypoints_2d, final.keypoints_2d)  # the prediction returned is the last stage's
