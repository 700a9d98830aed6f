"""HMR's IEF regressor: stages, initialisation, the plain-autograd reference, mixed precision."""

from __future__ import annotations

import pytest
import torch

from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.models import Encoder, IterativeRegressor, MeshRegressor, mean_theta
from hybridlib.models.encoder import save_encoder_weights
from hybridlib.models.forward import NetworkConfig
from hybridlib.models.regressor import (
    load_regressor_weights,
    regressor_origin,
    regressor_weights_path,
    save_regressor_weights,
)
from hybridlib.skeleton import THETA_LAYOUT


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
    """HMR's IEF written out from the paper with functional ops on the regressor's weights:
    Θ_t = Θ_{t−1} + FC3(drop(relu(FC2(drop(relu(FC1([features, Θ_{t−1}]))))))): the reference."""
    first, second, last = regressor.mlp[0], regressor.mlp[3], regressor.mlp[6]
    rate = regressor.mlp[2].p

    def drop(values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.dropout(values, rate, training=regressor.training)

    theta = regressor.initial_theta.expand(features.shape[0], -1)
    stages = []
    for _ in range(regressor.num_stages):
        hidden = drop(
            torch.relu(torch.nn.functional.linear(torch.cat([features, theta], dim=1), first.weight, first.bias))
        )
        hidden = drop(torch.relu(torch.nn.functional.linear(hidden, second.weight, second.bias)))
        theta = theta + torch.nn.functional.linear(hidden, last.weight, last.bias)
        stages.append(theta)
    return stages


@pytest.mark.parametrize("training", [True, False])
def test_regressor_stages_and_gradients_equal_the_ief_written_out(training):
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
        sum((stage * weight).sum() for stage, weight in zip(stages, stage_weights, strict=True)).backward()
        results.append(
            [stage.detach() for stage in stages]
            + [features.grad]
            + [parameter.grad for parameter in regressor.parameters()]
        )
    for ours, reference in zip(*results, strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


def test_regressor_runs_bf16_under_mixed_precision_sums_theta_in_float32_and_its_gradients_reach_the_features():
    regressor = IterativeRegressor(feature_dim=24)
    mlp_dtypes = []
    regressor.mlp.register_forward_hook(lambda module, inputs, output: mlp_dtypes.append(output.dtype))
    features = torch.randn(3, 24).to(torch.bfloat16).requires_grad_(True)  # as an encoder under autocast returns them
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stages = regressor(features)
    assert mlp_dtypes == [torch.bfloat16] * regressor.num_stages, "autocast is off in the regressor"
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


def test_pretrained_regressor_weights_load_only_beside_the_encoder_they_were_trained_with(tmp_path):
    encoder = Encoder("resnet18", pretrained=False)
    encoder_file = save_encoder_weights(encoder, tmp_path / "encoder_a.pt", {"summary": "a"})
    other_encoder_file = save_encoder_weights(Encoder("resnet18", pretrained=False), tmp_path / "encoder_b.pt", {})
    trained = IterativeRegressor(encoder.feature_dim)
    torch.nn.init.normal_(trained.mlp[-1].weight)  # unlike a fresh regressor
    trained.initial_theta.data += 0.25
    regressor_file = save_regressor_weights(
        trained, regressor_weights_path(encoder_file), encoder_file, {"summary": "pretrained on 3 images"}
    )
    assert regressor_file.name == "encoder_a_regressor.pt"
    assert regressor_origin(regressor_file).endswith(": pretrained on 3 images")
    assert regressor_origin(None) == "a fresh IEF regressor from Θ_0 (the mean pose)"

    fresh = IterativeRegressor(encoder.feature_dim)
    load_regressor_weights(fresh, regressor_file, encoder_file)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value.half().float(), msg=name)

    with pytest.raises(ValueError, match="pretrained with another encoder than .*encoder_b.pt"):
        load_regressor_weights(IterativeRegressor(encoder.feature_dim), regressor_file, other_encoder_file)
    with pytest.raises(ValueError, match="do not fit this regressor"):
        load_regressor_weights(IterativeRegressor(2048), regressor_file, encoder_file)
    with pytest.raises(ValueError, match="not a hybridlib regressor-weights file"):
        load_regressor_weights(IterativeRegressor(encoder.feature_dim), encoder_file, encoder_file)
    with pytest.raises(FileNotFoundError, match="make pretrained-encoder"):
        load_regressor_weights(IterativeRegressor(encoder.feature_dim), tmp_path / "missing.pt", encoder_file)
    with pytest.raises(ValueError, match="encoder_a.pt is not a hybridlib regressor-weights file"):
        regressor_origin(encoder_file)  # the provenance line reads through the same checks
    with pytest.raises(ValueError, match="start from the encoder they were pretrained with"):
        NetworkConfig("resnet18", regressor_weights=str(regressor_file))  # no encoder weights named
