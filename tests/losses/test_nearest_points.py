"""The compiled nearest-point search behind the fast L_mr, against scipy's k-d tree."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.spatial
import torch

from hybridlib.geometry import nearest_foreground_indices
from hybridlib.losses import mesh_reprojection_loss_dense
from hybridlib.losses.nearest_points import mesh_loss_sample, nearest_sites


def _nearest_distances(
    sites: np.ndarray, queries: np.ndarray, max_cells_per_side: int, at_pixel_centres: bool
) -> tuple[np.ndarray, np.ndarray]:
    found = nearest_sites(sites, queries, max_cells_per_side, at_pixel_centres)
    distances = np.linalg.norm(sites[found].astype(np.float64) - queries, axis=1)
    reference, _ = scipy.spatial.cKDTree(sites.astype(np.float64)).query(queries.astype(np.float64))
    return distances, reference


@pytest.mark.parametrize("seed", range(4))
def test_nearest_sites_is_exact_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    for case in range(60):
        size = int(rng.integers(8, 70))
        spread = rng.uniform(0.1, 3.0)  # from a tight cluster to points far outside the crop
        sites = (
            rng.normal(size=(int(rng.integers(1, 400)), 2)) * size * spread * 0.3 + rng.uniform(0, size, 2)
        ).astype(np.float32)
        if case % 3 == 0:
            sites = np.round(sites * 2) / 2  # on cell borders and pixel centres: ties
        at_pixel_centres = bool(case % 2)
        if at_pixel_centres:
            queries = (rng.integers(0, size, size=(int(rng.integers(1, 300)), 2)) + 0.5).astype(np.float32)
        else:
            queries = (rng.normal(size=(int(rng.integers(1, 300)), 2)) * size * spread + size / 2).astype(np.float32)
        max_cells = 8 if case % 5 == 0 else 4 * size  # 8: cells of several pixels
        distances, reference = _nearest_distances(sites, queries, max_cells, at_pixel_centres)
        np.testing.assert_array_equal(distances, reference)


def test_nearest_sites_handles_one_site_far_queries_huge_coordinates_and_no_site():
    sites = np.array([[3.25, 4.75]], np.float32)
    queries = np.array([[0.5, 0.5], [1000.5, -200.5], [3.5, 4.5]], np.float32)
    assert nearest_sites(sites, queries, 64, True).tolist() == [0, 0, 0]
    diverged = np.array([[3e19, 0.0], [5e19, 0.0], [-2e38, 1e30]], np.float32)  # squares beyond float32's range
    assert nearest_sites(diverged, np.array([[0.5, 0.5], [4.5e19, 0.5]], np.float32), 64, False).tolist() == [0, 1]
    with pytest.raises(ValueError, match="at least one site"):
        nearest_sites(np.zeros((0, 2), np.float32), queries, 64, True)


def test_sample_gradient_is_that_of_the_dense_loss():
    rng = np.random.default_rng(7)
    rows, columns = np.mgrid[:40, :40]
    silhouette = ((columns - 18) / 9.0) ** 2 + ((rows - 22) / 14.0) ** 2 <= 1
    points = (rng.normal(size=(900, 2)) * 8 + [20, 20]).astype(np.float32)  # some outside the crop
    points[:30] -= 25
    value, gradient = mesh_loss_sample(points, silhouette, nearest_foreground_indices(silhouette), True)
    points_tensor = torch.from_numpy(points).requires_grad_(True)
    dense = mesh_reprojection_loss_dense(points_tensor[None], torch.from_numpy(silhouette)[None], torch.tensor([True]))
    (dense_gradient,) = torch.autograd.grad(dense, points_tensor)
    assert value == pytest.approx(dense.item(), rel=1e-4)
    matching = np.isclose(gradient, dense_gradient.numpy(), rtol=1e-3, atol=1e-7).all(axis=1)
    assert matching.mean() >= 0.99  # the rest: a vertex's four-centre lookup missed its nearest pixel (tied or nearly)
