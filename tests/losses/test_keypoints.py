"""L_kpr: the keypoint reprojection loss."""

from __future__ import annotations

import pytest
import torch

from hybridlib.losses import keypoint_reprojection_loss


def test_keypoint_loss_is_mean_l1_over_visible_coordinates():
    gt = torch.zeros(2, 14, 3)
    gt[0, :2, 2] = 1.0  # two visible keypoints in sample 0, none in sample 1
    pred = torch.zeros(2, 14, 2)
    pred[0, 0] = torch.tensor([0.2, -0.4])
    pred[0, 5] = 10.0  # invisible: ignored
    pred[1] = 7.0  # invisible
    assert keypoint_reprojection_loss(pred, gt).item() == pytest.approx((0.2 + 0.4) / 4)
    assert keypoint_reprojection_loss(pred, torch.zeros(2, 14, 3)).item() == 0.0
