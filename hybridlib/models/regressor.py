"""HMR's iterative error feedback (IEF) regressor: Θ_t = Θ_{t−1} + MLP([feature, Θ_{t−1}]).

MLP = FC (feature_dim + 85) → 1024, ReLU, dropout 0.5, FC 1024 → 1024, ReLU, dropout 0.5,
FC 1024 → 85 with a small Xavier initialisation (gain 0.01), so that Θ starts near Θ_0.
Θ_0 is a learnable parameter initialised from the mean (:func:`mean_theta`).

The stages share the MLP's weights; autograd does the backward (a hand-written one bought
about 1 % of a ``cpu``-preset step: docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybridlib.atomic_write import atomic_write
from hybridlib.checksum import sha256_of
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


REGRESSOR_WEIGHTS_FORMAT = "hybridlib.regressor-weights/1"


def regressor_weights_path(encoder_weights: str | Path) -> Path:
    """Where the regressor pretrained together with the encoder-weights file ``encoder_weights``
    is kept: beside it, ``<its stem>_regressor.pt``."""
    encoder_weights = Path(encoder_weights)
    return encoder_weights.with_name(f"{encoder_weights.stem}_regressor.pt")


def save_regressor_weights(
    regressor: IterativeRegressor, path: str | Path, encoder_weights: str | Path, provenance: dict[str, Any]
) -> Path:
    """Write the regressor (Θ_0 and the MLP, float16) with ``provenance`` and the SHA-256 of the
    encoder-weights file it was trained on, atomically, for :func:`load_regressor_weights`."""
    payload = {
        "format": REGRESSOR_WEIGHTS_FORMAT,
        "encoder_sha256": sha256_of(encoder_weights),
        "state_dict": {name: value.half() for name, value in regressor.state_dict().items()},
        "provenance": provenance,
    }
    return atomic_write(path, lambda handle: torch.save(payload, handle), what="regressor weights")


def read_regressor_weights(path: str | Path) -> dict[str, Any]:
    """The payload of a :func:`save_regressor_weights` file (``state_dict``, ``encoder_sha256``,
    ``provenance``); refused, naming the file and the fix, when it is missing, unreadable or of
    another kind."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"regressor weights {path} not found: restore them (git checkout -- hybridlib/assets) or rebuild them "
            "with make pretrained-encoder"
        ) from None
    except Exception as error:  # truncated, corrupt or not a torch file
        raise ValueError(
            f"regressor weights {path} cannot be read ({type(error).__name__}): restore them "
            "(git checkout -- hybridlib/assets) or rebuild them with make pretrained-encoder"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != REGRESSOR_WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a hybridlib regressor-weights file (make pretrained-encoder writes one)")
    return payload


def load_regressor_weights(regressor: IterativeRegressor, path: str | Path, encoder_weights: str | Path) -> None:
    """Load a :func:`save_regressor_weights` file into ``regressor``; refused, naming both files,
    when it was pretrained with another encoder than ``encoder_weights`` or does not fit."""
    payload = read_regressor_weights(path)
    if payload["encoder_sha256"] != sha256_of(encoder_weights):
        raise ValueError(
            f"regressor weights {path} were pretrained with another encoder than {encoder_weights} (SHA-256 "
            f"{payload['encoder_sha256'][:12]}…): use the pair one pretraining wrote (make pretrained-encoder)"
        )
    state = {name: value.to(regressor.initial_theta.dtype) for name, value in payload["state_dict"].items()}
    try:
        regressor.load_state_dict(state)
    except RuntimeError as error:
        detail = " ".join(str(error).split("\n")[:2])[:300]
        raise ValueError(f"regressor weights {path} do not fit this regressor: {detail}") from error


def regressor_origin(regressor_weights: str | Path | None) -> str:
    """Where an IEF regressor built with these starting weights starts from, in words (provenance)."""
    if regressor_weights is None:
        return "a fresh IEF regressor from Θ_0 (the mean pose)"
    path = Path(regressor_weights)
    made = read_regressor_weights(path)["provenance"].get("summary", "")
    return f"{path.name} (sha256 {sha256_of(path)[:12]}){': ' + made if made else ''}"


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
