"""The forward pass every user of a trained model shares: images → Θ per IEF stage → body
model → projected keypoints and vertices (:func:`predict_body`), and the networks it runs on
(:class:`Networks`, :func:`build_networks`). Training, evaluation, prediction, the browser and
the studies all import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from hybridlib.body_model import BodyModel, BodyModelOutput
from hybridlib.geometry import normalized_to_pixels, weak_perspective_projection
from hybridlib.models.critic import BodyForCritic, body_for_critic, build_critic
from hybridlib.models.encoder import Encoder
from hybridlib.models.regressor import IterativeRegressor, MeshRegressor, load_regressor_weights, mean_theta
from hybridlib.precision import FP32, PrecisionChoice
from hybridlib.skeleton import ThetaParts, split_theta


def resolve_device(device: str) -> torch.device:
    """ "auto" → CUDA when available, else CPU; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class Networks:
    """The trained networks (image → Θ model, optional critic), the fixed body model and the
    precision the encoder, regressor and critic run in (:mod:`hybridlib.precision`)."""

    model: MeshRegressor | nn.Module
    critic: nn.Module | None
    body_model: BodyModel
    precision: PrecisionChoice = field(default=FP32)


@dataclass(frozen=True)
class NetworkConfig:
    """The architecture: encoder backbone, critic kind ("none", "without_rotation",
    "with_rotation", "hmr"), IEF stages and dropout, the encoder's starting weights (torchvision's
    ImageNet file or a hybridlib encoder-weights file; None = torchvision's cache if present),
    whether to use them at all, and the regressor's starting weights (a regressor-weights file
    pretrained with that encoder; None = a fresh regressor from Θ_0)."""

    backbone: str = "resnet50"
    critic: str = "with_rotation"
    num_stages: int = 3
    dropout: float = 0.5
    encoder_weights: str | None = None
    pretrained: bool = True
    regressor_weights: str | None = None

    def __post_init__(self) -> None:
        if self.regressor_weights is not None and (not self.pretrained or self.encoder_weights is None):
            raise ValueError(
                f"regressor weights {self.regressor_weights} start from the encoder they were pretrained with: "
                "set encoder_weights to that file (and pretrained=True), or regressor_weights=None"
            )


def build_networks(
    config: NetworkConfig,
    body_model: BodyModel,
    mean_body_pose: torch.Tensor | None = None,
    mean_betas: torch.Tensor | None = None,
) -> Networks:
    """Encoder + IEF regressor (Θ_0 from the given mean body pose (69,) and β (10,), the
    template when None — or, with ``config.regressor_weights``, the pretrained regressor's) and
    the critic, on the CPU, posing ``body_model``."""
    encoder = Encoder(config.backbone, weights_path=config.encoder_weights, pretrained=config.pretrained)
    initial_theta = mean_theta(mean_body_pose, mean_betas)
    regressor = IterativeRegressor(encoder.feature_dim, initial_theta, config.num_stages, dropout=config.dropout)
    if config.regressor_weights is not None:
        load_regressor_weights(regressor, config.regressor_weights, config.encoder_weights)
    return Networks(model=MeshRegressor(encoder, regressor), critic=build_critic(config.critic), body_model=body_model)


@dataclass
class Prediction:
    """Everything computed from one Θ (B,85): its parts, the body model's output, the
    projected keypoints (B,14,2) in normalised coordinates, the projected vertices (B,V,2) in
    crop pixels (None without the mesh) and the body as the critic sees it."""

    parts: ThetaParts
    output: BodyModelOutput
    keypoints_2d: torch.Tensor
    vertices_px: torch.Tensor | None
    body: BodyForCritic


def predict_body(theta: torch.Tensor, body_model: BodyModel, image_size: int, with_vertices: bool = True) -> Prediction:
    """Pose and project the body model for Θ (B,85) on ``image_size``-px crops;
    ``with_vertices=False`` skips the mesh (``vertices_px`` and ``output.vertices`` are then
    None: runs without L_mr need no mesh)."""
    parts = split_theta(theta)
    output = body_model(parts.global_orient, parts.body_pose, parts.betas, with_vertices=with_vertices)
    keypoints_2d = weak_perspective_projection(output.keypoints_lsp, parts.camera)
    vertices_px = None
    if output.vertices is not None:
        vertices_px = normalized_to_pixels(weak_perspective_projection(output.vertices, parts.camera), image_size)
    return Prediction(parts, output, keypoints_2d, vertices_px, body_for_critic(output, parts.betas))


def predict(networks: Networks, images: torch.Tensor) -> Prediction:
    """images (B,3,S,S) ImageNet-normalised → the prediction of the last IEF stage, with the
    mesh; encoder and regressor in the networks' precision (Θ float32), the body model in float32."""
    with networks.precision.autocast(images.device):
        theta = networks.model(networks.precision.prepare_images(images))[-1]
    return predict_body(theta, networks.body_model, images.shape[-1])
