"""The validation losses as the authors' TF2 code computes them (maxpit/human-pose-estimation at
b37e80a, ``val_step``; docs/method.md, "The authors' validation numbers"), so that our values
can be set beside the paper's Tables value for value. Ours (``kpr_loss``, ``mr_loss``) stay
Eq. 1 as written; these go in their own columns, ``kpr_loss_authors`` and ``mr_loss_authors``.

- KPR: 60 × the L1 over the visible keypoint coordinates in [−1, 1], pooled over each batch of
  8 test images (the batch's absolute errors ÷ 2 × its visible keypoints), then the mean over
  the batches.
- MR: per image, Σ over the projected vertices of the Euclidean distance to the nearest
  foreground pixel centre + Σ over the foreground pixels of the L1 distance to the nearest
  vertex, ÷ 6,893, in pixels of a 224-px crop, unweighted; **summed** over each batch of 8,
  then the mean over the batches. At another crop size S the two sums are scaled to 224 px
  (distances × 224/S; the number of foreground pixels × (224/S)²): an approximation of the
  224-px rasterisation.

What cannot be reproduced: the authors validate on jittered and flipped crops at the image's
own scale; these numbers use our centred crops (the differences are listed in docs/method.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial import cKDTree

from hybridlib.losses.silhouette import REFERENCE_CROP_SIZE, foreground_pixel_centres
from hybridlib.losses.weights import W_KPR
from hybridlib.thread_pool import cpu_threads

AUTHORS_BATCH_SIZE = 8
AUTHORS_MR_DIVISOR = 6893.0  # the code divides by a shape[1] that reads coordinate columns, not points


def keypoint_error_sums(
    pred_keypoints_2d: torch.Tensor, gt_keypoints_2d: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) Σ of the L1 errors over each image's visible coordinates, and (B,) its number of
    visible coordinates (2 per visible keypoint): the parts the authors pool over a batch."""
    visibility = gt_keypoints_2d[..., 2:3]
    absolute_error = ((pred_keypoints_2d - gt_keypoints_2d[..., :2]).abs() * visibility).sum(dim=(1, 2))
    return absolute_error, visibility.sum(dim=(1, 2)) * 2


def mesh_error_sums(vertices_px: torch.Tensor, silhouettes: torch.Tensor, has_silhouette: torch.Tensor) -> torch.Tensor:
    """(B,) the authors' per-image MR (unweighted, 224-px scale, ÷ 6,893) of projected vertices
    (B,V,2) in pixels of (B,S,S) silhouettes; NaN where there is no silhouette or no foreground.
    One image per thread (the k-d tree searches release the GIL)."""
    scale = REFERENCE_CROP_SIZE / silhouettes.shape[-1]
    images = zip(vertices_px.detach().float().cpu(), silhouettes.cpu(), has_silhouette.cpu(), strict=True)
    values = cpu_threads().map(lambda image: mesh_error_sum(*image, scale), images)
    return torch.tensor(list(values), dtype=torch.float64)


def mesh_error_sum(vertices: torch.Tensor, silhouette: torch.Tensor, usable: torch.Tensor, scale: float) -> float:
    """One image's MR as :func:`mesh_error_sums` computes it: vertices (V,2) px, silhouette
    (S,S), ``usable`` its has-silhouette flag, ``scale`` = 224 / S."""
    if not usable or not silhouette.any() or not torch.isfinite(vertices).all():
        return math.nan
    pixels = foreground_pixel_centres(silhouette).numpy()
    points = vertices.numpy()
    to_foreground = cKDTree(pixels).query(points, p=2)[0].sum()  # Euclidean, every vertex
    to_vertices = cKDTree(points).query(pixels, p=1)[0].sum()  # L1, every foreground pixel
    return float((scale * to_foreground + scale**3 * to_vertices) / AUTHORS_MR_DIVISOR)


def authors_validation_losses(
    keypoint_errors: torch.Tensor, keypoint_counts: torch.Tensor, mesh_errors: torch.Tensor
) -> dict[str, float]:
    """``kpr_loss_authors`` and ``mr_loss_authors`` from the per-image parts (N,) of all test
    images in order, grouped into consecutive batches of 8 (the last one may be smaller)."""
    kpr_batches, mr_batches = [], []
    for start in range(0, len(keypoint_errors), AUTHORS_BATCH_SIZE):
        batch = slice(start, start + AUTHORS_BATCH_SIZE)
        counted = float(keypoint_counts[batch].sum())
        if counted > 0:
            kpr_batches.append(W_KPR * float(keypoint_errors[batch].sum()) / counted)
        mesh = mesh_errors[batch].numpy()
        if np.isfinite(mesh).any():
            mr_batches.append(float(np.nansum(mesh)))
    return {
        "kpr_loss_authors": float(np.mean(kpr_batches)) if kpr_batches else math.nan,
        "mr_loss_authors": float(np.mean(mr_batches)) if mr_batches else math.nan,
    }
