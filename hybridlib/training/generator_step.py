"""The generator's loss: L_comb = w_kpr·L_kpr + w_mr·L_mr + w_critic·L_adv of the last IEF stage
(or the mean over the stages, ``loss_on_all_stages``), with the pred_ / gt_ quantities side by
side. A zero weight switches a loss off (its term is not computed). ``w_3d`` adds the generated
3D truth's supervision (:mod:`hybridlib.losses.supervised_3d`): pretraining only."""

from __future__ import annotations

import torch

from hybridlib.data import Batch
from hybridlib.losses import keypoint_reprojection_loss, mesh_reprojection_loss
from hybridlib.losses.adversarial import AdversarialLosses
from hybridlib.losses.silhouette import reference_pixel_scale
from hybridlib.losses.supervised_3d import supervised_3d_loss
from hybridlib.models.forward import Networks, Prediction, predict_body
from hybridlib.training.config import TrainConfig
from hybridlib.training.distributed import DistributedContext, global_sum


def mesh_loss_weight(config: TrainConfig, step: int, total_steps: int) -> float:
    """w_mr at a 0-based step: constant, or ramped linearly over ``w_mr_ramp_fraction`` of the run."""
    ramp_steps = config.w_mr_ramp_fraction * total_steps
    if ramp_steps <= 0:
        return config.w_mr
    return config.w_mr * min(1.0, (step + 1) / ramp_steps)


def generator_losses(
    config: TrainConfig,
    thetas: list[torch.Tensor],
    batch: Batch,
    networks: Networks,
    adversary: AdversarialLosses | None,
    context: DistributedContext = DistributedContext(),
    w_mr: float | None = None,
) -> tuple[torch.Tensor, dict[str, float], Prediction]:
    """L_comb for the stages' Θ (B,85) each, its parts (this process's share of the global
    batch's values) and the last stage's prediction. ``w_mr`` overrides the configured weight
    (the schedule's value at this step)."""
    w_kpr, w_critic, w_mr = config.w_kpr, config.w_critic, config.w_mr if w_mr is None else w_mr
    gt_keypoints_2d, gt_silhouette, has_silhouette = batch.keypoints_2d, batch.silhouette, batch.has_silhouette
    stages = thetas if config.loss_on_all_stages else thetas[-1:]
    with_mesh_loss, with_critic = config.w_mr > 0, adversary is not None and w_critic > 0
    # divisors over the global batch, per process (DDP averages the processes' gradients)
    num_coordinates = global_sum(gt_keypoints_2d[..., 2].sum() * 2, context) / context.world_size
    num_silhouettes = global_sum(has_silhouette.sum().float(), context) / context.world_size
    zero = torch.zeros((), device=batch.image.device)
    loss_total = zero
    logs = {"loss_kpr": 0.0, "loss_mr": 0.0, "loss_adversarial": 0.0}
    if config.w_3d > 0:
        logs["loss_3d"] = 0.0
    for theta in stages:
        pred = predict_body(theta, networks.body_model, config.image_size, with_vertices=with_mesh_loss)
        loss_kpr = keypoint_reprojection_loss(pred.keypoints_2d, gt_keypoints_2d, num_coordinates)
        loss_mr = zero
        if with_mesh_loss:
            pixel_scale = reference_pixel_scale(config.image_size)
            loss_mr = pixel_scale * mesh_reprojection_loss(
                pred.vertices_px, gt_silhouette, has_silhouette, batch.silhouette_nearest, num_silhouettes
            )
        loss_adversarial = zero
        if with_critic:
            with networks.precision.autocast(batch.image.device):  # the critic's layers; scores float32
                loss_adversarial = adversary.generator(networks.critic(pred.body))
        loss_stage = w_kpr * loss_kpr + w_mr * loss_mr + w_critic * loss_adversarial
        if config.w_3d > 0:
            loss_3d = supervised_3d_loss(
                pred.output.rotation_matrices, pred.output.keypoints_lsp, pred.parts.betas,
                batch.pose, batch.joints_3d, batch.betas, batch.has_3d,
            )  # fmt: skip
            loss_stage = loss_stage + config.w_3d * loss_3d
            logs["loss_3d"] += loss_3d.item() / len(stages)
        loss_total = loss_total + loss_stage / len(stages)
        for name, value in (("loss_kpr", loss_kpr), ("loss_mr", loss_mr), ("loss_adversarial", loss_adversarial)):
            logs[name] += value.item() / len(stages)
    logs["loss_total"] = loss_total.item()
    return loss_total, logs, pred
