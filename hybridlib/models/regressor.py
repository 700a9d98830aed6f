"""HMR's iterative error feedback (IEF) regressor: Θ_t = Θ_{t−1} + MLP([feature, Θ_{t−1}]).

MLP = FC (feature_dim + 85) → 1024, ReLU, dropout 0.5, FC 1024 → 1024, ReLU, dropout 0.5,
FC 1024 → 85 with a small Xavier initialisation (gain 0.01), so that Θ starts near Θ_0.
Θ_0 is a learnable parameter initialised from the mean (:func:`mean_theta`).

The stages share the MLP's weights; their forward and backward are written out by hand
(:class:`_IterativeErrorFeedback`) so that each weight's gradient over all stages is one
matrix product over the stacked stages instead of one per stage summed by autograd. Same
values as ``nn.Sequential``, and on the CPU the same dropout draws (tests/models; CUDA's
``nn.Dropout`` draws its masks with another kernel).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from hybridlib.geometry import NUM_BETAS, NUM_BODY_JOINTS, THETA_LAYOUT, UPRIGHT_GLOBAL_ORIENT

DEFAULT_CAMERA_SCALE = 0.9


def mean_theta(
    body_pose: torch.Tensor | None = None, betas: torch.Tensor | None = None, camera_scale: float = DEFAULT_CAMERA_SCALE
) -> torch.Tensor:
    """Θ_0 (85,): camera (scale, 0, 0), upright global orientation, mean body pose (69,)
    and β (10,) — zeros (the template) unless given, e.g. the mean of a MoSh set."""
    theta = torch.zeros(THETA_LAYOUT.size)
    theta[THETA_LAYOUT.camera] = torch.tensor([camera_scale, 0.0, 0.0])
    theta[THETA_LAYOUT.global_orient] = torch.tensor(UPRIGHT_GLOBAL_ORIENT)
    if body_pose is not None:
        theta[THETA_LAYOUT.body_pose] = torch.as_tensor(body_pose, dtype=torch.float32).reshape(3 * NUM_BODY_JOINTS)
    if betas is not None:
        theta[THETA_LAYOUT.betas] = torch.as_tensor(betas, dtype=torch.float32).reshape(NUM_BETAS)
    return theta


class IterativeRegressor(nn.Module):
    """features (B, feature_dim) → list of Θ (B,85), one per stage (the last is the prediction)."""

    def __init__(
        self,
        feature_dim: int,
        initial_theta: torch.Tensor | None = None,
        num_stages: int = 3,
        hidden_dim: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_stages = num_stages
        self.initial_theta = nn.Parameter(
            (mean_theta() if initial_theta is None else initial_theta).clone().reshape(1, THETA_LAYOUT.size)
        )
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim + THETA_LAYOUT.size, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, THETA_LAYOUT.size),
        )
        nn.init.xavier_uniform_(self.mlp[-1].weight, gain=0.01)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        first, second, last = (
            self.mlp[0],
            self.mlp[3],
            self.mlp[6],
        )  # the Linear layers of the layout built above (hooks on self.mlp do not run)
        dropout = self.mlp[2].p if self.training else 0.0
        stages = _IterativeErrorFeedback.apply(
            features,
            self.initial_theta,
            first.weight,
            first.bias,
            second.weight,
            second.bias,
            last.weight,
            last.bias,
            self.num_stages,
            dropout,
        )
        return list(stages.unbind(0))


class _IterativeErrorFeedback(torch.autograd.Function):
    """Θ_t = Θ_{t−1} + MLP([features, Θ_{t−1}]) for t = 1…T with the weights of
    :class:`IterativeRegressor`'s MLP; returns the stages (T,B,85). Dropout draws its masks as
    ``nn.Dropout`` does on the CPU, in the same order. Under autocast (mixed precision) forward
    and backward run in the weights' dtype."""

    @staticmethod
    def forward(
        ctx, features, initial_theta, weight1, bias1, weight2, bias2, weight3, bias3, num_stages: int, dropout: float
    ) -> torch.Tensor:  # noqa: ANN001
        with torch.autocast(features.device.type, enabled=False):
            return _IterativeErrorFeedback._stages(
                ctx,
                features.to(weight1.dtype),
                initial_theta,
                weight1,
                bias1,
                weight2,
                bias2,
                weight3,
                bias3,
                num_stages,
                dropout,
            )

    @staticmethod
    def _stages(
        ctx, features, initial_theta, weight1, bias1, weight2, bias2, weight3, bias3, num_stages: int, dropout: float
    ) -> torch.Tensor:  # noqa: ANN001
        theta = initial_theta.expand(features.shape[0], -1)
        keep = 1.0 - dropout
        inputs, hidden1, hidden2, gates1, gates2, stages = [], [], [], [], [], []
        for _ in range(num_stages):
            stage_input = torch.cat([features, theta], dim=1)  # (B, F+85)
            gate1, activation1 = _relu_dropout(torch.addmm(bias1, stage_input, weight1.T), keep)
            gate2, activation2 = _relu_dropout(torch.addmm(bias2, activation1, weight2.T), keep)
            theta = theta + torch.addmm(bias3, activation2, weight3.T)
            for saved, tensor in zip(
                (inputs, hidden1, hidden2, gates1, gates2, stages),
                (stage_input, activation1, activation2, gate1, gate2, theta),
            ):
                saved.append(tensor)
        ctx.feature_dim = features.shape[1]
        ctx.save_for_backward(
            weight1,
            weight2,
            weight3,
            torch.cat(inputs),
            torch.cat(hidden1),
            torch.cat(hidden2),
            torch.stack(gates1),
            torch.stack(gates2),
        )
        return torch.stack(stages)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_stages: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        with torch.autocast(grad_stages.device.type, enabled=False):
            return _IterativeErrorFeedback._gradients(ctx, grad_stages)

    @staticmethod
    def _gradients(ctx, grad_stages: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # noqa: ANN001
        weight1, weight2, weight3, inputs, hidden1, hidden2, gates1, gates2 = ctx.saved_tensors
        grad_stages = grad_stages.to(weight1.dtype)
        num_stages = grad_stages.shape[0]
        grad_theta = torch.zeros_like(grad_stages[0])  # ∂L/∂Θ_t, from the last stage back
        grad_features = torch.zeros_like(inputs[: grad_stages.shape[1], : ctx.feature_dim])
        grad_outputs, grad_hidden2, grad_hidden1 = (
            [None] * num_stages,
            [None] * num_stages,
            [None] * num_stages,
        )  # ∂L/∂ pre-activations
        for stage in range(num_stages - 1, -1, -1):
            grad_theta = grad_theta + grad_stages[stage]
            grad_outputs[stage] = grad_theta
            grad_hidden2[stage] = (grad_theta @ weight3) * gates2[stage]
            grad_hidden1[stage] = (grad_hidden2[stage] @ weight2) * gates1[stage]
            grad_input = grad_hidden1[stage] @ weight1
            grad_features = grad_features + grad_input[:, : ctx.feature_dim]
            grad_theta = grad_theta + grad_input[:, ctx.feature_dim :]  # the residual and the MLP's input
        grad_output, grad_second, grad_first = (
            torch.cat(grad_outputs),
            torch.cat(grad_hidden2),
            torch.cat(grad_hidden1),
        )  # stages stacked
        return (
            grad_features,
            grad_theta.sum(dim=0, keepdim=True),
            grad_first.T @ inputs,
            grad_first.sum(dim=0),
            grad_second.T @ hidden1,
            grad_second.sum(dim=0),
            grad_output.T @ hidden2,
            grad_output.sum(dim=0),
            None,
            None,
        )


def _relu_dropout(pre_activation: torch.Tensor, keep: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(gate, activation): activation = ReLU(pre_activation) with inverted dropout (keep < 1),
    gate its derivative (0, or 1/keep where kept; all 0 when nothing is kept, as nn.Dropout(1))."""
    gate = (pre_activation > 0).to(pre_activation.dtype)
    if keep <= 0.0:
        gate = torch.zeros_like(gate)
    elif keep < 1.0:
        gate = gate * torch.empty_like(pre_activation).bernoulli_(keep).div_(keep)
    return gate, pre_activation * gate


class MeshRegressor(nn.Module):
    """Encoder + IEF regressor: images (B,3,H,W) → list of Θ (B,85) per stage."""

    def __init__(self, encoder: nn.Module, regressor: IterativeRegressor) -> None:
        super().__init__()
        self.encoder = encoder
        self.regressor = regressor

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.regressor(self.encoder(image))
