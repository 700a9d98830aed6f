"""L_kpr, L_mr (dense reference and fast path) and the adversarial losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.data import DataConfig, build_dataset, collate_samples
from hybridlib.geometry import nearest_foreground_indices, normalized_to_pixels, weak_perspective_projection
from hybridlib.losses import (
    gradient_penalty,
    keypoint_reprojection_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    mesh_reprojection_loss,
    mesh_reprojection_loss_dense,
    mesh_reprojection_loss_per_sample,
    wgan_generator_loss,
    wgan_gp_critic_loss,
)
from hybridlib.losses.adversarial import interpolate_bodies
from hybridlib.losses.silhouette import foreground_pixel_centres
from hybridlib.models.critic import BodyForCritic, KCSCritic


def test_keypoint_loss_is_mean_l1_over_visible_coordinates():
    gt = torch.zeros(2, 14, 3)
    gt[0, :2, 2] = 1.0  # two visible keypoints in sample 0, none in sample 1
    pred = torch.zeros(2, 14, 2)
    pred[0, 0] = torch.tensor([0.2, -0.4])
    pred[0, 5] = 10.0  # invisible: ignored
    pred[1] = 7.0  # invisible
    assert keypoint_reprojection_loss(pred, gt).item() == pytest.approx((0.2 + 0.4) / 4)
    assert keypoint_reprojection_loss(pred, torch.zeros(2, 14, 3)).item() == 0.0


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


def _bodies(batch: int, seed: int) -> BodyForCritic:
    generator = torch.Generator().manual_seed(seed)
    return BodyForCritic(
        torch.randn(batch, 14, 3, generator=generator),
        torch.randn(batch, 23, 3, 3, generator=generator),
        torch.randn(batch, 10, generator=generator),
    )


def test_gradient_penalty_is_zero_for_unit_gradient_critics_and_positive_otherwise():
    def linear_critic(scale: float):
        direction = torch.randn(10, generator=torch.Generator().manual_seed(0))
        direction = direction / direction.norm() * scale
        return lambda body: torch.stack(
            [body.betas @ direction, body.joints.flatten(1).sum(dim=1) * scale / np.sqrt(42)], dim=1
        )

    bodies = _bodies(6, 1)
    assert gradient_penalty(linear_critic(1.0), bodies).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_penalty(linear_critic(3.0), bodies).item() == pytest.approx(2 * (3.0 - 1.0) ** 2, rel=1e-5)


@pytest.mark.parametrize("with_rotation", [True, False])
def test_kcs_critic_loss_with_one_penalty_gradient_equals_a_gradient_per_stream(with_rotation):
    torch.manual_seed(0)
    critic = KCSCritic(with_rotation=with_rotation)
    real, fake, mix = _bodies(6, 4), _bodies(6, 5), torch.rand(6)

    def reference() -> torch.Tensor:  # the textbook form: one gradient (and double backward) per stream
        inputs = BodyForCritic(
            **{
                name: value.detach().requires_grad_(True)
                for name, value in vars(interpolate_bodies(real, fake, mix)).items()
            }
        )
        scores = critic(inputs)
        penalty = 0.0
        for stream in range(scores.shape[1]):
            gradients = torch.autograd.grad(
                scores[:, stream].sum(), list(vars(inputs).values()), create_graph=True, allow_unused=True
            )
            squared = sum(gradient.flatten(1).pow(2).sum(dim=1) for gradient in gradients if gradient is not None)
            penalty = penalty + ((squared + 1e-12).sqrt() - 1.0).pow(2).mean()
        return -(critic(real).mean(dim=0) - critic(fake).mean(dim=0)).sum() + 10.0 * penalty

    results = []
    for loss_of in (lambda: wgan_gp_critic_loss(critic, real, fake, mix=mix)[0], reference):
        critic.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        results.append([loss.detach()] + [parameter.grad for parameter in critic.parameters()])
    for ours, expected in zip(*results):
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


def test_wasserstein_and_least_squares_losses_have_the_right_signs():
    critic = lambda body: body.betas[:, :2]  # noqa: E731  (two "streams")
    real, fake = _bodies(4, 2), _bodies(4, 3)
    real.betas += 2.0
    loss, logs = wgan_gp_critic_loss(critic, real, fake, penalty_weight=0.0)
    assert logs["critic_wasserstein"] > 0 and loss.item() == pytest.approx(-logs["critic_wasserstein"])
    scores = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert wgan_generator_loss(scores).item() == pytest.approx(-(2.0 + 3.0))
    assert lsgan_generator_loss(torch.ones(3, 25)).item() == 0.0
    assert lsgan_discriminator_loss(torch.ones(3, 25), torch.zeros(3, 25)).item() == 0.0
    assert lsgan_discriminator_loss(torch.zeros(3, 25), torch.ones(3, 25)).item() == pytest.approx(50.0)


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
