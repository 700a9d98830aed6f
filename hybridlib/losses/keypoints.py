"""L_kpr: the keypoint reprojection loss (HMR's), mean L1 over visible ground-truth keypoints."""

from __future__ import annotations

import torch


def keypoint_reprojection_loss(
    pred_keypoints_2d: torch.Tensor, gt_keypoints_2d: torch.Tensor, num_coordinates: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean absolute error over the coordinates of visible keypoints.

    pred_keypoints_2d (B,K,2) and gt_keypoints_2d (B,K,3) (x, y, visibility) in normalised
    image coordinates [−1, 1]. Returns a scalar; 0 when nothing is visible.
    ``num_coordinates`` replaces the divisor (2 × visible keypoints of this batch), e.g. by the
    count over all processes of a distributed batch.
    """
    visibility = gt_keypoints_2d[..., 2:3]
    absolute_error = (pred_keypoints_2d - gt_keypoints_2d[..., :2]).abs() * visibility
    if num_coordinates is None:
        num_coordinates = visibility.sum() * 2
    return absolute_error.sum() / num_coordinates.clamp(min=1.0)


def keypoint_error_sums(
    pred_keypoints_2d: torch.Tensor, gt_keypoints_2d: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) Σ of the L1 errors over each sample's visible coordinates, and (B,) its number of
    visible coordinates (2 per visible keypoint)."""
    visibility = gt_keypoints_2d[..., 2:3]
    absolute_error = ((pred_keypoints_2d - gt_keypoints_2d[..., :2]).abs() * visibility).sum(dim=(1, 2))
    return absolute_error, visibility.sum(dim=(1, 2)) * 2


def keypoint_reprojection_loss_per_sample(
    pred_keypoints_2d: torch.Tensor, gt_keypoints_2d: torch.Tensor
) -> torch.Tensor:
    """(B,) mean L1 over each sample's visible keypoint coordinates (0 where none is visible)."""
    absolute_error, coordinates = keypoint_error_sums(pred_keypoints_2d, gt_keypoints_2d)
    return absolute_error / coordinates.clamp(min=1.0)
