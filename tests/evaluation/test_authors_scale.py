"""The validation losses by the authors' formulas: unsquared sums ÷ 6,893 on the 224-px scale,
summed over batches of 8 (MR); L1 pooled over batches of 8 (KPR)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hybridlib.evaluation.authors_scale import AUTHORS_MR_DIVISOR, authors_validation_losses, mesh_error_sums
from hybridlib.losses.keypoints import keypoint_error_sums


def test_one_vertex_three_pixels_from_one_foreground_pixel_on_224_and_on_112_px():
    silhouette = torch.zeros(1, 224, 224, dtype=torch.bool)
    silhouette[0, 0, 0] = True  # its centre is (0.5, 0.5)
    vertex = torch.tensor([[[3.5, 0.5]]])
    assert mesh_error_sums(vertex, silhouette, torch.tensor([True])).item() == pytest.approx(6 / AUTHORS_MR_DIVISOR)
    # the same geometry on a 112-px crop: distances ×2, and a pixel there stands for 4 at 224 px
    small = torch.zeros(1, 112, 112, dtype=torch.bool)
    small[0, 0, 0] = True
    expected = (2 * 3 + 2**3 * 3) / AUTHORS_MR_DIVISOR
    assert mesh_error_sums(vertex, small, torch.tensor([True])).item() == pytest.approx(expected)


def test_the_mesh_sums_match_all_pairs_with_euclidean_one_way_and_l1_the_other():
    generator = torch.Generator().manual_seed(0)
    silhouettes = torch.rand(3, 224, 224, generator=generator) > 0.97
    silhouettes[2] = False  # no foreground: NaN
    vertices = 224 * torch.rand(3, 50, 2, generator=generator)
    has_silhouette = torch.tensor([True, False, True])
    values = mesh_error_sums(vertices, silhouettes, has_silhouette)
    rows, columns = np.nonzero(silhouettes[0].numpy())
    pixels = np.stack([columns, rows], axis=1) + 0.5
    difference = vertices[0].numpy()[:, None, :] - pixels[None, :, :]
    euclidean = np.sqrt((difference**2).sum(-1)).min(axis=1).sum()
    manhattan = np.abs(difference).sum(-1).min(axis=0).sum()
    assert values[0].item() == pytest.approx((euclidean + manhattan) / AUTHORS_MR_DIVISOR, rel=1e-6)
    assert math.isnan(values[1]) and math.isnan(values[2])


def test_kpr_is_pooled_over_batches_of_eight_and_mr_summed_over_them():
    gt = torch.zeros(10, 14, 3)
    gt[:, :, 2] = 1.0
    gt[0, 1:, 2] = 0.0  # image 0 shows one keypoint only
    pred = torch.zeros(10, 14, 2)
    pred[0, 0] = 1.0  # image 0: error 2 over 2 coordinates
    pred[9] = 0.5  # image 9: error 0.5 per coordinate
    errors, counts = keypoint_error_sums(pred, gt)
    mesh = torch.tensor([1.0, 2.0, math.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 5.0], dtype=torch.float64)
    losses = authors_validation_losses(errors, counts, mesh)
    first = 60 * 2.0 / (2 + 7 * 28)  # pooled: image 0's error over the batch's 198 coordinates
    second = 60 * (28 * 0.5) / 56  # images 8 and 9: image 9's 28 errors of 0.5 over the batch's 56 coordinates
    assert losses["kpr_loss_authors"] == pytest.approx((first + second) / 2)
    assert losses["mr_loss_authors"] == pytest.approx(((1 + 2) + (4 + 5)) / 2)
