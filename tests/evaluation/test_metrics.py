"""Metrics on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.evaluation import metrics


def test_pck_counts_visible_keypoints_within_a_fifth_of_the_torso():
    gt = torch.zeros(1, 14, 3)
    gt[0, :, 2] = 1.0
    gt[0, metrics.LEFT_SHOULDER, :2] = torch.tensor([0.0, 0.0])
    gt[0, metrics.RIGHT_HIP, :2] = torch.tensor([0.0, 1.0])  # torso 1 → threshold 0.2
    pred = gt[..., :2].clone()
    pred[0, 0, 0] += 0.19  # correct
    pred[0, 1, 0] += 0.21  # wrong
    gt[0, 5, 2] = 0.0  # invisible: not counted
    pred[0, 5] += 5.0
    assert metrics.pck(pred, gt).item() == pytest.approx(100.0 * 12 / 13)
    gt[0, metrics.RIGHT_HIP, 2] = 0.0
    assert math.isnan(metrics.pck(pred, gt).item())


def test_procrustes_undoes_a_similarity_transform_and_mpjpe_is_in_millimetres():
    generator = torch.Generator().manual_seed(0)  # seeded: the draw no longer depends on which tests ran before
    joints = torch.randn(2, 14, 3, generator=generator)
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=generator)).Q
    rotation = rotation * torch.sign(torch.linalg.det(rotation))
    moved = 1.7 * joints @ rotation + torch.tensor([0.3, -1.0, 2.0])
    assert (
        metrics.pa_mpjpe_mm(moved, joints).max() < 1e-2
    )  # float32 rounding at metre scale: ~1 µm (it reached 1.0e-3 mm once)
    shifted = joints.clone()
    shifted[:, 0, 0] += 0.014  # 14 mm on one of 14 joints, but the pelvis is untouched
    assert metrics.mpjpe_mm(shifted, joints)[0].item() == pytest.approx(1.0, rel=1e-4)


def test_plausibility_metrics_flag_bad_bodies_only():
    body_model = BodyModel(OPEN_BODY_MODEL_LITE)
    rest = body_model(torch.zeros(1, 3), torch.zeros(1, 69), torch.zeros(1, 10))
    bent_backwards = torch.zeros(1, 69)
    bent_backwards[0, 3 * 3] = -1.2  # left knee (body joint 4 → index 3) hyperextended
    bad = body_model(torch.zeros(1, 3), bent_backwards, torch.full((1, 10), 2.5))
    assert metrics.joints_outside_limits_percent(rest.rotation_matrices).item() == 0.0
    assert metrics.joints_outside_limits_percent(bad.rotation_matrices).item() == pytest.approx(100.0 / 23)
    assert metrics.bone_length_deviation_percent(rest.keypoints_lsp, rest.keypoints_lsp[0]).item() == pytest.approx(
        0.0, abs=1e-4
    )
    assert metrics.bone_length_deviation_percent(bad.keypoints_lsp, rest.keypoints_lsp[0]).item() > 3.0
