"""L_3d: the generated 3D truth's supervision (pretraining only), on the real body model."""

from __future__ import annotations

import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.losses.supervised_3d import W_BETAS, W_JOINTS_3D, supervised_3d_loss
from hybridlib.skeleton import NUM_BETAS, NUM_JOINTS


@pytest.fixture(scope="module")
def body_model() -> BodyModel:
    return BodyModel(OPEN_BODY_MODEL_LITE)


def _posed(body_model: BodyModel, pose: torch.Tensor, betas: torch.Tensor):
    return body_model(pose[:, :3], pose[:, 3:], betas, with_vertices=False)


def test_the_loss_is_zero_at_the_truth_and_sums_its_three_parts_with_spins_weights(body_model):
    generator = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(2, 3 * NUM_JOINTS, generator=generator)
    betas = torch.randn(2, NUM_BETAS, generator=generator)
    truth = _posed(body_model, pose, betas)
    has_3d = torch.tensor([True, True])
    zero = supervised_3d_loss(
        truth.rotation_matrices, truth.keypoints_lsp, betas, pose, truth.keypoints_lsp, betas, has_3d
    )
    assert zero.item() == pytest.approx(0.0, abs=1e-6)

    other_betas = betas + 1.0  # β alone: 0.001 · mean squared difference (1); rotations unchanged
    loss_betas = supervised_3d_loss(
        truth.rotation_matrices, truth.keypoints_lsp, other_betas, pose, truth.keypoints_lsp, betas, has_3d
    )
    assert loss_betas.item() == pytest.approx(W_BETAS * 1.0, rel=1e-5)

    shifted = truth.keypoints_lsp + torch.tensor([0.1, -0.2, 0.3])  # a translation: removed by hip centring
    loss_shift = supervised_3d_loss(truth.rotation_matrices, shifted, betas, pose, truth.keypoints_lsp, betas, has_3d)
    assert loss_shift.item() == pytest.approx(0.0, abs=1e-6)

    scaled = 1.1 * truth.keypoints_lsp  # a real change of the skeleton: 5 × its mean squared difference
    centred = truth.keypoints_lsp - truth.keypoints_lsp[:, [2, 3]].mean(dim=1, keepdim=True)
    expected = W_JOINTS_3D * (0.1 * centred).square().mean()
    loss_scaled = supervised_3d_loss(truth.rotation_matrices, scaled, betas, pose, truth.keypoints_lsp, betas, has_3d)
    assert loss_scaled.item() == pytest.approx(expected.item(), rel=1e-4)


def test_only_samples_with_truth_count_and_none_gives_zero(body_model):
    generator = torch.Generator().manual_seed(1)
    pose = 0.3 * torch.randn(2, 3 * NUM_JOINTS, generator=generator)
    betas = torch.zeros(2, NUM_BETAS)
    truth = _posed(body_model, pose, betas)
    wrong_pose = pose.clone()
    wrong_pose[1] += 0.5  # sample 1 is far off, but has no truth
    predicted = _posed(body_model, wrong_pose, betas)
    only_first = torch.tensor([True, False])
    loss = supervised_3d_loss(
        predicted.rotation_matrices, predicted.keypoints_lsp, betas, pose, truth.keypoints_lsp, betas, only_first
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    none = supervised_3d_loss(
        predicted.rotation_matrices,
        predicted.keypoints_lsp,
        betas,
        pose,
        truth.keypoints_lsp,
        betas,
        torch.tensor([False, False]),
    )
    assert none.item() == 0.0


def test_the_gradient_pulls_the_predicted_pose_towards_the_truth(body_model):
    generator = torch.Generator().manual_seed(2)
    pose = 0.3 * torch.randn(1, 3 * NUM_JOINTS, generator=generator)
    betas = torch.zeros(1, NUM_BETAS)
    truth = _posed(body_model, pose, betas)
    guess = (pose + 0.2 * torch.randn(1, 3 * NUM_JOINTS, generator=generator)).requires_grad_()
    has_3d = torch.tensor([True])
    losses = []
    optimizer = torch.optim.SGD([guess], lr=0.5)
    for _ in range(20):
        predicted = _posed(body_model, guess, betas)
        loss = supervised_3d_loss(
            predicted.rotation_matrices, predicted.keypoints_lsp, betas, pose, truth.keypoints_lsp, betas, has_3d
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
