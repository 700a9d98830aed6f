"""Per-batch metrics: PCK, silhouette IoU, body plausibility and 3D joint errors.

All take tensors on any device and return per-sample values (B,) so that callers can mask
and average them as they need.
"""

from __future__ import annotations

import numpy as np
import roma
import torch

from hybridlib.body_model.joint_limits import joints_outside_limits
from hybridlib.rendering import render_silhouette
from hybridlib.skeleton import LEFT_HIP, LEFT_SHOULDER, LSP_BONES, RIGHT_HIP

PCK_THRESHOLD = 0.2


def pck(
    pred_keypoints_2d: torch.Tensor, gt_keypoints_2d: torch.Tensor, threshold: float = PCK_THRESHOLD
) -> torch.Tensor:
    """Percentage of correct keypoints per sample (B,), in %: a visible keypoint is correct
    within ``threshold`` × the torso diameter (left shoulder to right hip, the LSP convention).
    NaN where the torso or every keypoint is invisible."""
    visible = gt_keypoints_2d[..., 2] > 0
    torso = (gt_keypoints_2d[:, LEFT_SHOULDER, :2] - gt_keypoints_2d[:, RIGHT_HIP, :2]).norm(dim=-1)
    torso_known = visible[:, LEFT_SHOULDER] & visible[:, RIGHT_HIP]
    distance = (pred_keypoints_2d - gt_keypoints_2d[..., :2]).norm(dim=-1)
    correct = (distance <= threshold * torso[:, None]) & visible
    result = 100.0 * correct.sum(dim=1) / visible.sum(dim=1).clamp(min=1)
    return torch.where(torso_known & visible.any(dim=1), result, torch.full_like(result, float("nan")))


def silhouette_iou(
    vertices: torch.Tensor,
    faces: np.ndarray,
    camera: torch.Tensor,
    silhouette_gt: torch.Tensor,
    has_silhouette: torch.Tensor,
) -> torch.Tensor:
    """Intersection over union (B,) of the rendered predicted silhouette and the ground truth
    (B,S,S); NaN where there is no ground-truth silhouette."""
    image_size = silhouette_gt.shape[-1]
    result = torch.full((len(vertices),), float("nan"))
    for index in torch.nonzero(has_silhouette).flatten().tolist():
        predicted = torch.from_numpy(render_silhouette(vertices[index], faces, camera[index], image_size))
        truth = silhouette_gt[index].cpu()
        union = (predicted | truth).sum()
        result[index] = (predicted & truth).sum() / union if union > 0 else float("nan")
    return result


def joints_outside_limits_percent(rotation_matrices: torch.Tensor, tolerance_deg: float = 5.0) -> torch.Tensor:
    """Percentage (B,) of the 23 body joints outside the anatomical table (local rotations (B,24,3,3))."""
    return 100.0 * joints_outside_limits(rotation_matrices[:, 1:], tolerance_deg).float().mean(dim=1).to(
        rotation_matrices.device
    )


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """Lengths (B,13) of the LSP bones of joints (B,14,3)."""
    starts, ends = zip(*LSP_BONES, strict=True)
    return (joints[:, list(ends)] - joints[:, list(starts)]).norm(dim=-1)


def bone_length_deviation_percent(joints: torch.Tensor, reference_joints: torch.Tensor) -> torch.Tensor:
    """Mean relative deviation (B,), in %, of the bone lengths of joints (B,14,3) from those of
    a reference skeleton (14,3) — the body model's own mean-shape skeleton."""
    reference = bone_lengths(reference_joints[None])
    return 100.0 * ((bone_lengths(joints) - reference).abs() / reference).mean(dim=1)


def _pelvis(joints: torch.Tensor) -> torch.Tensor:
    return joints[:, [RIGHT_HIP, LEFT_HIP]].mean(dim=1, keepdim=True)


def mpjpe_mm(pred_joints: torch.Tensor, gt_joints: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (B,) in mm after aligning the pelvises (mid-hips); joints in metres."""
    return 1000.0 * ((pred_joints - _pelvis(pred_joints)) - (gt_joints - _pelvis(gt_joints))).norm(dim=-1).mean(dim=1)


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """source (B,N,3) moved by the similarity transform (scale, rotation, translation) that brings
    it closest to target (B,N,3) in the least-squares sense (Umeyama, via roma)."""
    rotation, translation, scale = roma.rigid_points_registration(source, target, compute_scaling=True)
    return scale[:, None, None] * source @ rotation.transpose(1, 2) + translation[:, None]


def pa_mpjpe_mm(pred_joints: torch.Tensor, gt_joints: torch.Tensor) -> torch.Tensor:
    """MPJPE (B,) in mm after Procrustes alignment (scale, rotation, translation)."""
    return 1000.0 * (procrustes_align(pred_joints, gt_joints) - gt_joints).norm(dim=-1).mean(dim=1)
