"""Encoder, IEF regressor and critics: shapes, initialisation, KCS algebra."""

from __future__ import annotations

import pytest
import torch

from hybridlib.body_model import BodyModel
from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.models import (
    Encoder,
    HMRDiscriminator,
    IterativeRegressor,
    KCSCritic,
    MeshRegressor,
    body_for_critic,
    build_critic,
    mean_theta,
)
from hybridlib.models.critic import bone_incidence_matrix, kcs_matrix
from hybridlib.models.encoder import imagenet_weights_file
from hybridlib.skeleton import LSP_BONES, THETA_LAYOUT


def test_encoder_without_cached_weights_warns_once_and_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="random initialisation.*download"):
        encoder = Encoder("resnet18")
    assert encoder.weights_source is None and encoder.feature_dim == 512
    assert encoder(torch.zeros(2, 3, 64, 64)).shape == (2, 512)
    with pytest.raises(FileNotFoundError, match="weights"):
        Encoder("resnet18", weights_path=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="backbone"):
        Encoder("vgg16")


def test_encoder_loads_weights_from_torchvisions_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = Encoder("resnet18", pretrained=False)
    path = imagenet_weights_file("resnet18")
    path.parent.mkdir(parents=True)
    state = {key: value for key, value in reference.network.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(state, path)
    loaded = Encoder("resnet18")
    assert loaded.weights_source == str(path)
    torch.testing.assert_close(loaded.network.conv1.weight, reference.network.conv1.weight)


def test_regressor_returns_every_stage_starting_near_the_mean():
    torch.manual_seed(0)
    regressor = IterativeRegressor(feature_dim=16).eval()
    stages = regressor(torch.randn(4, 16))
    assert len(stages) == 3 and all(stage.shape == (4, 85) for stage in stages)
    initial = mean_theta()
    assert initial[THETA_LAYOUT.camera].tolist() == pytest.approx([0.9, 0.0, 0.0])
    assert initial[THETA_LAYOUT.global_orient].tolist() == pytest.approx(list(UPRIGHT_GLOBAL_ORIENT))
    assert (stages[-1] - initial).abs().max() < 0.05  # gain-0.01 last layer: small first updates
    assert not torch.equal(stages[0], stages[1])
    model = MeshRegressor(Encoder("resnet18", pretrained=False), IterativeRegressor(512, num_stages=2))
    assert [stage.shape for stage in model(torch.zeros(2, 3, 96, 96))] == [(2, 85), (2, 85)]


def _stages_by_autograd(regressor: IterativeRegressor, features: torch.Tensor) -> list[torch.Tensor]:
    """The IEF loop written plainly with the regressor's own nn.Sequential: the reference."""
    theta = regressor.initial_theta.expand(features.shape[0], -1)
    stages = []
    for _ in range(regressor.num_stages):
        theta = theta + regressor.mlp(torch.cat([features, theta], dim=1))
        stages.append(theta)
    return stages


@pytest.mark.parametrize("training", [True, False])
def test_regressor_stages_and_gradients_equal_the_plain_autograd_loop(training):
    regressor = IterativeRegressor(feature_dim=24).train(training)
    with torch.no_grad():
        regressor.mlp[-1].weight.mul_(50.0)  # stages that differ visibly
    features = torch.randn(5, 24, requires_grad=True)
    stage_weights = [torch.randn(5, 85) for _ in range(3)]
    results = []
    for forward in (regressor, lambda inputs: _stages_by_autograd(regressor, inputs)):
        torch.manual_seed(11)  # the same dropout masks
        regressor.zero_grad(set_to_none=True)
        features.grad = None
        stages = forward(features)
        sum((stage * weight).sum() for stage, weight in zip(stages, stage_weights)).backward()
        results.append(
            [stage.detach() for stage in stages]
            + [features.grad]
            + [parameter.grad for parameter in regressor.parameters()]
        )
    for ours, reference in zip(*results):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


def test_regressor_runs_in_float32_under_mixed_precision_and_its_gradients_reach_the_features():
    regressor = IterativeRegressor(feature_dim=24)
    features = torch.randn(3, 24).to(torch.bfloat16).requires_grad_(True)  # as an encoder under autocast returns them
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stages = regressor(features)
    assert all(stage.dtype == torch.float32 for stage in stages)
    stages[-1].sum().backward()
    assert features.grad.dtype == torch.bfloat16 and features.grad.abs().sum() > 0
    assert all(
        parameter.grad is not None and parameter.grad.dtype == torch.float32 for parameter in regressor.parameters()
    )


def test_regressor_backward_passes_gradcheck_in_float64_and_dropout_of_one_drops_everything():
    regressor = IterativeRegressor(feature_dim=3, hidden_dim=5, num_stages=2).double().eval()
    features = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda inputs, *parameters: torch.stack(regressor(inputs)), (features, *regressor.parameters())
    )
    silent = IterativeRegressor(feature_dim=3, dropout=1.0).train()
    stages = silent(torch.randn(2, 3))
    assert all(torch.isfinite(stage).all() for stage in stages)
    torch.testing.assert_close(
        stages[-1], silent.mlp[-1].bias.expand(2, -1) * 3 + silent.initial_theta.expand(2, -1)
    )  # every hidden unit dropped


def test_kcs_matrix_is_bone_gram_matrix_and_symmetric():
    incidence = bone_incidence_matrix()
    assert incidence.shape == (14, 13) and (incidence.sum(dim=0) == 0).all()
    joints = torch.randn(5, 14, 3)
    kcs = kcs_matrix(joints, incidence)
    bones = torch.stack([joints[:, end] - joints[:, start] for start, end in LSP_BONES], dim=2)  # (B,3,13)
    torch.testing.assert_close(kcs, bones.transpose(1, 2) @ bones)
    torch.testing.assert_close(kcs, kcs.transpose(1, 2))
    torch.testing.assert_close(torch.diagonal(kcs, dim1=1, dim2=2), bones.pow(2).sum(dim=1))  # squared bone lengths
    rotation = torch.linalg.qr(torch.randn(3, 3)).Q
    torch.testing.assert_close(kcs_matrix(joints @ rotation.T, incidence), kcs, atol=1e-4, rtol=1e-4)


def test_critics_score_every_stream_and_see_bodies_without_global_rotation():
    body_model = BodyModel()
    pose = torch.zeros(3, 69)
    global_orient = torch.tensor([[0.0, 0.0, 0.0], [3.14159, 0.0, 0.0], [0.3, 1.2, -0.4]])
    output = body_model(global_orient, pose, torch.zeros(3, 10))
    body = body_for_critic(output, torch.zeros(3, 10))
    torch.testing.assert_close(body.joints[1], body.joints[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(body.joints[2], body.joints[0], atol=1e-5, rtol=0)
    assert KCSCritic(with_rotation=True)(body).shape == (3, 3)
    assert KCSCritic(with_rotation=False)(body).shape == (3, 2)
    assert HMRDiscriminator()(body).shape == (3, 25)
    assert build_critic("none") is None and isinstance(build_critic("hmr"), HMRDiscriminator)
    with pytest.raises(ValueError, match="critic must be"):
        build_critic("gan")
