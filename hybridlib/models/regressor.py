"""HMR's iterative error feedback (IEF) regressor: Θ_t = Θ_{t−1} + MLP([feature, Θ_{t−1}]).

MLP = FC (feature_dim + 85) → 1024, ReLU, dropout 0.5, FC 1024 → 1024, ReLU, dropout 0.5,
FC 1024 → 85 with a small Xavier initialisation (gain 0.01), so that Θ starts near Θ_0.
Θ_0 is a learnable parameter initialised from the mean (:func:`mean_theta`).

The stages share the MLP's weights; autograd does the backward (a hand-written one bought
about 1 % of a ``cpu``-preset step: docs/performance.md).
"""

from __future__ import annotations

import torch
from torch import nn

from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.skeleton import NUM_BETAS, NUM_BODY_JOINTS, THETA_LAYOUT

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
        # Under autocast (mixed precision) the MLP runs in bf16; Θ sums its small corrections
        # over the stages in float32, the dtype of Θ_0, so every stage's Θ is float32.
        theta = self.initial_theta.expand(features.shape[0], -1)
        features = features.to(theta.dtype)  # bf16 features from an autocast encoder: one cast
        stages = []
        for _ in range(self.num_stages):
            correction = self.mlp(torch.cat([features, theta], dim=1))
            theta = theta + correction.to(theta.dtype)
            stages.append(theta)
        return stages


class MeshRegressor(nn.Module):
    """Encoder + IEF regressor: images (B,3,H,W) → list of Θ (B,85) per stage."""

    def __init__(self, encoder: nn.Module, regressor: IterativeRegressor) -> None:
        super().__init__()
        self.encoder = encoder
        self.regressor = regressor

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.regressor(self.encoder(image))


class ConstantTheta(nn.Module):
    """The trivial predictor: the same Θ (85,) for every image, e.g. :func:`mean_theta` — what
    every configuration predicts before training; images (B,3,H,W) → ``num_stages`` × Θ (B,85).
    It uses no image, so a study's trained rows are measured against it."""

    def __init__(self, theta: torch.Tensor, num_stages: int = 3) -> None:
        super().__init__()
        self.register_buffer("theta", theta.reshape(1, THETA_LAYOUT.size).float())
        self.num_stages = num_stages

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return [self.theta.expand(image.shape[0], -1)] * self.num_stages
