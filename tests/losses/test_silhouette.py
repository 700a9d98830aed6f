"""L_mr: the mesh (silhouette) reprojection loss, its dense reference and its fast path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.data import DataConfig, build_dataset, collate_samples
from hybridlib.geometry import nearest_foreground_indices, normalized_to_pixels, weak_perspective_projection
from hybridlib.losses import mesh_reprojection_loss, mesh_reprojection_loss_dense, mesh_reprojection_loss_per_sample
from hybridlib.losses.silhouette import foreground_pixel_centres


def _blob_silhouette(size: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for _ in range(3):
        centre, radius = rng.uniform(size * 0.3, size * 0.7, 2), rng.uniform(size * 0.08, size * 0.2, 2)
        mask |= ((columns - centre[0]) / radius[0]) ** 2 + ((rows - centre[1]) / radius[1]) ** 2 <= 1
    return torch.from_numpy(mask)


def test_mesh_loss_is_zero_on_the_silhouette_and_grows_with_a_shift():
    silhouette = _blob_silhouette(64, 0)
    points = foreground_pixel_centres(silhouette)[None]
    has = torch.tensor([True])
    for loss in (mesh_reprojection_loss, mesh_reprojection_loss_dense):
        values = [
            loss(points + torch.tensor([shift, 0.0]), silhouette[None], has).item() for shift in (0.0, 1.0, 3.0, 6.0)
        ]
        assert values[0] == pytest.approx(0.0, abs=1e-6)
        assert values == sorted(values) and values[-1] > 10 * values[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_mesh_loss_equals_dense_on_random_cases(seed):
    generator = torch.Generator().manual_seed(seed)
    silhouettes = torch.stack([_blob_silhouette(48, seed * 10 + index) for index in range(3)])
    points = (torch.rand(3, 700, 2, generator=generator) * 60 - 6).requires_grad_(True)  # some outside the image
    has = torch.tensor([True, False, True])
    dense = mesh_reprojection_loss_dense(points, silhouettes, has)
    (dense_gradient,) = torch.autograd.grad(dense, points)
    nearest = torch.from_numpy(np.stack([nearest_foreground_indices(mask.numpy()) for mask in silhouettes]))
    fast = mesh_reprojection_loss(points, silhouettes, has, nearest)
    (fast_gradient,) = torch.autograd.grad(fast, points)
    assert fast.item() == pytest.approx(dense.item(), rel=1e-3)  # the issue asks for 1 %; measured ~1e-5
    assert torch.nn.functional.cosine_similarity(fast_gradient.flatten(), dense_gradient.flatten(), dim=0) >= 0.99
    assert dense_gradient[1].abs().sum() == 0  # the sample without silhouette takes no part


def test_fast_mesh_loss_equals_dense_on_generated_bodies(generated_root):
    dataset = build_dataset(DataConfig(root=generated_root, use_lspet=False), "train", seed=1)
    batch = collate_samples([dataset[index] for index in range(3)])
    body_model = BodyModel(OPEN_BODY_MODEL_LITE)  # same pose and shape space as the full model, 10x fewer vertices
    output = body_model(batch.pose[:, :3], batch.pose[:, 3:], batch.betas)
    camera = batch.camera + torch.tensor([0.0, 0.03, -0.02])  # a slightly wrong prediction
    points = (
        normalized_to_pixels(weak_perspective_projection(output.vertices, camera), 224).detach().requires_grad_(True)
    )
    dense = mesh_reprojection_loss_dense(points, batch.silhouette, batch.has_silhouette)
    (dense_gradient,) = torch.autograd.grad(dense, points)
    fast = mesh_reprojection_loss(points, batch.silhouette, batch.has_silhouette)
    (fast_gradient,) = torch.autograd.grad(fast, points)
    assert fast.item() == pytest.approx(dense.item(), rel=1e-3)  # the issue asks for 1 %; measured ~1e-5
    assert torch.nn.functional.cosine_similarity(fast_gradient.flatten(), dense_gradient.flatten(), dim=0) >= 0.99


def test_mesh_loss_without_any_silhouette_is_zero_and_differentiable():
    points = torch.rand(2, 10, 2, requires_grad=True)
    for loss in (mesh_reprojection_loss, mesh_reprojection_loss_dense):
        value = loss(points, torch.zeros(2, 8, 8, dtype=torch.bool), torch.tensor([False, False]))
        value.backward()
        assert value.item() == 0.0


def test_per_sample_mesh_loss_gives_each_sample_its_own_loss_and_nan_when_left_out():
    generator = torch.Generator().manual_seed(5)
    silhouettes = torch.stack([_blob_silhouette(48, 40 + index) for index in range(4)])
    silhouettes[3] = False  # an empty silhouette: left out, as a missing one
    points = torch.rand(4, 500, 2, generator=generator) * 48
    has = torch.tensor([True, False, True, True])
    per_sample = mesh_reprojection_loss_per_sample(points, silhouettes, has)
    assert per_sample.shape == (4,) and torch.isnan(per_sample[[1, 3]]).all()
    for index in (0, 2):
        alone = mesh_reprojection_loss_dense(
            points[index : index + 1], silhouettes[index : index + 1], has[index : index + 1]
        )
        assert per_sample[index].item() == pytest.approx(alone.item(), rel=1e-3)
    assert mesh_reprojection_loss(points, silhouettes, has).item() == pytest.approx(
        per_sample[[0, 2]].mean().item(), rel=1e-6
    )
