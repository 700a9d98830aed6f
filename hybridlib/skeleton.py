"""The skeleton facts every module shares, in one place: SMPL's 24 joints and their tree, the
14 LSP keypoints (order, names, left/right mirror, the 13 bones of the KCS critic) and the
layout of the 85 regressed parameters Θ.

LSP order (as the dataset's ``joints.mat``): right ankle, knee, hip, left hip, knee, ankle,
right wrist, elbow, shoulder, left shoulder, elbow, wrist, neck, head top.
Θ (85) = camera ``(s, tx, ty)`` 0:3, global orientation 3:6 and body pose 6:75 (24 × axis-angle,
radians), β 75:85.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

NUM_BODY_JOINTS = 23  # SMPL's body pose: every joint but the pelvis
NUM_JOINTS = NUM_BODY_JOINTS + 1  # with the pelvis (global orientation)
NUM_BETAS = 10
NUM_LSP_KEYPOINTS = 14

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
BODY_JOINT_NAMES = SMPL_JOINT_NAMES[1:]  # the 23 joints of the body pose

LSP_JOINT_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)  # fmt: skip
RIGHT_HIP, LEFT_HIP, LEFT_SHOULDER = (
    LSP_JOINT_NAMES.index(name) for name in ("right_hip", "left_hip", "left_shoulder")
)


def mirrored_name(name: str) -> str:
    """The joint's name on the other side of the body (``left_knee`` ↔ ``right_knee``); central
    joints are their own mirror."""
    for side, other in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(side):
            return other + name[len(side) :]
    return name


# LSP index of each keypoint's mirror image: keypoints of a horizontally flipped crop.
LSP_FLIP_PERMUTATION = tuple(LSP_JOINT_NAMES.index(mirrored_name(name)) for name in LSP_JOINT_NAMES)
# The first 13 LSP keypoints are SMPL joints (SMPL's "shoulder" joints are the shoulder
# balls, its hips the hip-joint centres); the 14th, head top, is a surface vertex.
LSP_FROM_SMPL_JOINTS = tuple(SMPL_JOINT_NAMES.index(name) for name in LSP_JOINT_NAMES[:-1])

# The 13 bones of the 14 LSP keypoints (a tree), as in the authors' code: legs, arms, the
# trunk sides (hip to shoulder), shoulders to neck, neck to head top.
LSP_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (3, 4), (4, 5),  # right shin, right thigh, left thigh, left shin
    (6, 7), (7, 8), (9, 10), (10, 11),  # right forearm, right upper arm, left upper arm, left forearm
    (2, 8), (3, 9), (8, 12), (9, 12), (12, 13),  # trunk sides, shoulders, head
)  # fmt: skip


class ThetaLayout(NamedTuple):
    """Where each part lives in the 85-d parameter vector Θ (order: camera, global
    orientation, body pose, shape)."""

    camera: slice = slice(0, 3)  # s, tx, ty
    global_orient: slice = slice(3, 6)  # axis-angle, radians
    body_pose: slice = slice(6, 6 + 3 * NUM_BODY_JOINTS)  # 23 × axis-angle, radians
    betas: slice = slice(6 + 3 * NUM_BODY_JOINTS, 6 + 3 * NUM_BODY_JOINTS + NUM_BETAS)

    @property
    def size(self) -> int:
        return self.betas.stop


THETA_LAYOUT = ThetaLayout()
assert THETA_LAYOUT.size == 85


@dataclass
class ThetaParts:
    """Θ split into named parts: camera (B,3), global_orient (B,3), body_pose (B,69), betas (B,10)."""

    camera: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    betas: torch.Tensor


def split_theta(theta: torch.Tensor) -> ThetaParts:
    """Split Θ (...,85) into its parts (views, no copy); works on numpy arrays too."""
    if theta.shape[-1] != THETA_LAYOUT.size:
        raise ValueError(
            f"Θ must have {THETA_LAYOUT.size} entries in its last dimension, got shape {tuple(theta.shape)}"
        )
    return ThetaParts(
        camera=theta[..., THETA_LAYOUT.camera],
        global_orient=theta[..., THETA_LAYOUT.global_orient],
        body_pose=theta[..., THETA_LAYOUT.body_pose],
        betas=theta[..., THETA_LAYOUT.betas],
    )


def join_theta(parts: ThetaParts) -> torch.Tensor:
    """Inverse of :func:`split_theta`: (B,85)."""
    return torch.cat([parts.camera, parts.global_orient, parts.body_pose, parts.betas], dim=-1)
