"""The shared forward pass: Θ → posed, projected body (predict_body), images → the last stage's
body (predict), the networks it runs on (build_networks) and the device choice."""

from __future__ import annotations

import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.geometry import normalized_to_pixels, weak_perspective_projection
from hybridlib.models import (
    HMRDiscriminator,
    KCSCritic,
    MeshRegressor,
    NetworkConfig,
    body_for_critic,
    build_networks,
    mean_theta,
    predict,
    predict_body,
    resolve_device,
)
from hybridlib.skeleton import NUM_LSP_KEYPOINTS, join_theta, split_theta

IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def body_model() -> BodyModel:
    return BodyModel(OPEN_BODY_MODEL_LITE)


def _thetas(batch: int, seed: int) -> torch.Tensor:
    """Θ near the mean: a visible body, a little posed and shaped, not centred."""
    generator = torch.Generator().manual_seed(seed)
    return mean_theta().expand(batch, -1) + 0.2 * torch.randn(batch, 85, generator=generator)


def _config(critic: str) -> NetworkConfig:
    return NetworkConfig(backbone="resnet18", critic=critic, num_stages=2, pretrained=False)


def test_predict_body_projects_the_body_models_keypoints_and_vertices(body_model):
    theta = _thetas(3, 0)
    prediction = predict_body(theta, body_model, IMAGE_SIZE)
    parts = split_theta(theta)
    output = body_model(parts.global_orient, parts.body_pose, parts.betas)
    assert prediction.keypoints_2d.shape == (3, NUM_LSP_KEYPOINTS, 2)
    assert prediction.vertices_px.shape == (3, body_model.num_vertices, 2)
    torch.testing.assert_close(prediction.keypoints_2d, weak_perspective_projection(output.keypoints_lsp, parts.camera))
    torch.testing.assert_close(
        prediction.vertices_px,
        normalized_to_pixels(weak_perspective_projection(output.vertices, parts.camera), IMAGE_SIZE),
    )
    torch.testing.assert_close(prediction.output.keypoints_lsp, output.keypoints_lsp)
    for name in ("camera", "global_orient", "body_pose", "betas"):
        assert torch.equal(getattr(prediction.parts, name), getattr(parts, name))
    expected_body = body_for_critic(output, parts.betas)
    for name in ("joints", "rotations", "betas"):
        torch.testing.assert_close(getattr(prediction.body, name), getattr(expected_body, name))


def test_predict_body_without_vertices_skips_the_mesh_and_keeps_the_keypoints(body_model):
    theta = _thetas(2, 1)
    with_mesh = predict_body(theta, body_model, IMAGE_SIZE)
    skeleton_only = predict_body(theta, body_model, IMAGE_SIZE, with_vertices=False)
    assert skeleton_only.vertices_px is None and skeleton_only.output.vertices is None
    torch.testing.assert_close(skeleton_only.keypoints_2d, with_mesh.keypoints_2d)
    torch.testing.assert_close(skeleton_only.body.joints, with_mesh.body.joints)
    torch.testing.assert_close(skeleton_only.body.rotations, with_mesh.body.rotations)


def test_predict_body_keypoints_follow_the_gradient_back_to_theta(body_model):
    theta = _thetas(2, 2).requires_grad_(True)
    predict_body(theta, body_model, IMAGE_SIZE, with_vertices=False).keypoints_2d.sum().backward()
    assert theta.grad is not None and theta.grad[:, :3].abs().sum() > 0  # the camera moves the keypoints


def test_predict_is_predict_body_of_the_last_stage(body_model):
    torch.manual_seed(0)
    networks = build_networks(_config("none"), body_model)
    networks.model.eval()  # no dropout: both forwards see the same Θ
    images = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        prediction = predict(networks, images)
        stages = networks.model(images)
        expected = predict_body(stages[-1], body_model, IMAGE_SIZE)
    assert len(stages) == 2
    torch.testing.assert_close(join_theta(prediction.parts), stages[-1])
    torch.testing.assert_close(prediction.keypoints_2d, expected.keypoints_2d)
    torch.testing.assert_close(prediction.vertices_px, expected.vertices_px)  # with the mesh, on 64-px crops


@pytest.mark.parametrize(
    ("critic", "expected_type", "streams"),
    [
        ("none", None, None),
        ("without_rotation", KCSCritic, 2),
        ("with_rotation", KCSCritic, 3),
        ("hmr", HMRDiscriminator, 25),
    ],
)
def test_build_networks_builds_the_critic_its_kind_names(body_model, critic, expected_type, streams):
    networks = build_networks(_config(critic), body_model)
    assert isinstance(networks.model, MeshRegressor) and networks.body_model is body_model
    assert networks.model.regressor.num_stages == 2 and networks.model.encoder.feature_dim == 512
    if expected_type is None:
        assert networks.critic is None
    else:
        assert type(networks.critic) is expected_type
        body = predict_body(_thetas(2, 3), body_model, IMAGE_SIZE, with_vertices=False).body
        assert networks.critic(body).shape == (2, streams)


def test_build_networks_starts_the_regressor_at_the_given_mean_body(body_model):
    generator = torch.Generator().manual_seed(4)
    mean_body_pose, mean_betas = 0.1 * torch.randn(69, generator=generator), torch.randn(10, generator=generator)
    networks = build_networks(_config("none"), body_model, mean_body_pose, mean_betas)
    torch.testing.assert_close(
        networks.model.regressor.initial_theta.detach().reshape(85), mean_theta(mean_body_pose, mean_betas)
    )
    template = build_networks(_config("none"), body_model)
    torch.testing.assert_close(template.model.regressor.initial_theta.detach().reshape(85), mean_theta())


def test_build_networks_refuses_an_unknown_critic(body_model):
    with pytest.raises(ValueError, match="critic must be"):
        build_networks(_config("gan"), body_model)


def test_resolve_device_auto_picks_cuda_only_when_available(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
