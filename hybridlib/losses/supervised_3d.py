"""3D supervision from generated truth, for pretraining the encoder only (the studies never
use it): L_3d = L_pose + 5·L_joints + 0.001·L_betas, SPIN's relative weights (Kolotouros et
al. 2019), over the samples that have 3D truth.

- L_pose: mean squared difference of the 24 local rotation matrices (B,24,3,3),
- L_joints: mean squared difference of the 14 LSP keypoints (B,14,3) in metres, each set
  centred on its hips' midpoint (the camera's depth is not known to a weak-perspective model),
- L_betas: mean squared difference of β (B,10).
"""

from __future__ import annotations

import torch

from hybridlib.geometry import axis_angle_to_rotation_matrix
from hybridlib.skeleton import LSP_JOINT_NAMES, NUM_JOINTS

W_JOINTS_3D = 5.0
W_BETAS = 0.001
_HIPS = [LSP_JOINT_NAMES.index("right_hip"), LSP_JOINT_NAMES.index("left_hip")]


def _hip_centred(keypoints_3d: torch.Tensor) -> torch.Tensor:
    return keypoints_3d - keypoints_3d[:, _HIPS].mean(dim=1, keepdim=True)


def supervised_3d_loss(
    rotation_matrices: torch.Tensor,
    keypoints_3d: torch.Tensor,
    betas: torch.Tensor,
    gt_pose: torch.Tensor,
    gt_keypoints_3d: torch.Tensor,
    gt_betas: torch.Tensor,
    has_3d: torch.Tensor,
) -> torch.Tensor:
    """L_3d (scalar) of predicted rotation matrices (B,24,3,3), keypoints (B,14,3) m and β (B,10)
    against the truth pose (B,72) axis-angle, keypoints (B,14,3) m and β (B,10), over the
    samples where ``has_3d`` (B,) is True; 0 when none has truth."""
    if not has_3d.any():
        return rotation_matrices.new_zeros(())
    gt_rotation_matrices = axis_angle_to_rotation_matrix(gt_pose[has_3d].reshape(-1, NUM_JOINTS, 3))
    loss_pose = (rotation_matrices[has_3d] - gt_rotation_matrices).square().mean()
    loss_joints = (_hip_centred(keypoints_3d[has_3d]) - _hip_centred(gt_keypoints_3d[has_3d])).square().mean()
    loss_betas = (betas[has_3d] - gt_betas[has_3d]).square().mean()
    return loss_pose + W_JOINTS_3D * loss_joints + W_BETAS * loss_betas
