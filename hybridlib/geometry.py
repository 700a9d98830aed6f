"""Camera projection, pixel ↔ normalised coordinates and rotations (the Θ layout: :mod:`hybridlib.skeleton`).

Conventions (as HMR):
- Weak-perspective camera ``(s, tx, ty)``: ``x_2d = s * (X[..., :2] + [tx, ty])`` gives
  normalised image coordinates in [-1, 1], x to the right, y downwards.
- Pixels: ``pixel = (x_2d + 1) / 2 * image_size`` (continuous coordinates, 0 is the
  left/top image border, ``image_size`` the right/bottom one).
- The body model is y-up; HMR's mean pose carries a global rotation of π about x so that
  the body stands upright in image coordinates (y down) and faces the camera (−z).
"""

from __future__ import annotations

import numpy as np
import roma
import scipy.ndimage
import torch

# Global orientation that turns the y-up body model upright in image coordinates (HMR).
UPRIGHT_GLOBAL_ORIENT = (torch.pi, 0.0, 0.0)


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
