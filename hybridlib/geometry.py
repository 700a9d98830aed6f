"""Camera projection, rotations and the layout of the 85 regressed parameters Θ.

Conventions (as HMR):
- Weak-perspective camera ``(s, tx, ty)``: ``x_2d = s * (X[..., :2] + [tx, ty])`` gives
  normalised image coordinates in [-1, 1], x to the right, y downwards.
- Pixels: ``pixel = (x_2d + 1) / 2 * image_size`` (continuous coordinates, 0 is the
  left/top image border, ``image_size`` the right/bottom one).
- The body model is y-up; HMR's mean pose carries a global rotation of π about x so that
  the body stands upright in image coordinates (y down) and faces the camera (−z).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import roma
import scipy.ndimage
import torch

NUM_BODY_JOINTS = 23
NUM_BETAS = 10


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

# Global orientation that turns the y-up body model upright in image coordinates (HMR).
UPRIGHT_GLOBAL_ORIENT = (torch.pi, 0.0, 0.0)


@dataclass
class ThetaParts:
    """Θ split into named parts: camera (B,3), global_orient (B,3), body_pose (B,69), betas (B,10)."""

    camera: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    betas: torch.Tensor


def split_theta(theta: torch.Tensor) -> ThetaParts:
    """Split Θ (B,85) into its parts (views, no copy)."""
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


def weak_perspective_projection(points_3d: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Project points (B,N,3) with weak-perspective cameras (B,3) = (s, tx, ty).

    Returns (B,N,2) normalised image coordinates, [-1, 1] across the image.
    """
    scale = camera[:, None, 0:1]
    translation = camera[:, None, 1:3]
    return scale * (points_3d[..., :2] + translation)


def weak_perspective_unprojection(points_2d: torch.Tensor, depth: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Invert :func:`weak_perspective_projection` given each point's depth.

    points_2d (B,N,2) normalised coordinates, depth (B,N) model-space z, camera (B,3).
    Returns (B,N,3) model-space points.
    """
    scale = camera[:, None, 0:1]
    translation = camera[:, None, 1:3]
    xy = points_2d / scale - translation
    return torch.cat([xy, depth[..., None]], dim=-1)


def normalized_to_pixels(points_2d: torch.Tensor, image_size: int) -> torch.Tensor:
    """Normalised coordinates in [-1, 1] → pixel coordinates in [0, image_size]."""
    return (points_2d + 1.0) * (0.5 * image_size)


def pixels_to_normalized(points_px: torch.Tensor, image_size: int) -> torch.Tensor:
    """Pixel coordinates in [0, image_size] → normalised coordinates in [-1, 1]."""
    return points_px / (0.5 * image_size) - 1.0


def axis_angle_to_rotation_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors (...,3), radians → rotation matrices (...,3,3) (via roma)."""
    return roma.rotvec_to_rotmat(axis_angle)


def rotation_matrix_to_axis_angle(rotation_matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (...,3,3) → axis-angle vectors (...,3), radians (via roma)."""
    return roma.rotmat_to_rotvec(rotation_matrix)


def nearest_foreground_indices(silhouette: np.ndarray) -> np.ndarray:
    """(2,S,S) int16: for every pixel of a (S,S) bool silhouette, the (row, column) of the
    nearest foreground pixel (exact Euclidean distance transform). Needs some foreground."""
    _, indices = scipy.ndimage.distance_transform_edt(~np.asarray(silhouette, bool), return_indices=True)
    return indices.astype(np.int16)
