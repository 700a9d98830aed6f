"""Image encoder: a torchvision ResNet without its classifier, global-average-pooled.

ResNet-50 gives HMR's 2048-d feature; resnet18/34 (512-d) are for CPU presets. ImageNet
weights are loaded from ``weights_path`` or, when present, torchvision's download cache
(``$TORCH_HOME/hub/checkpoints``); hybridlib never downloads them (a download on a machine
without network hangs). Without weights the encoder starts from random initialisation with
one warning that says where to put the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn

BACKBONES = {
    "resnet18": (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1, 512),
    "resnet34": (torchvision.models.resnet34, torchvision.models.ResNet34_Weights.IMAGENET1K_V1, 512),
    "resnet50": (torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V1, 2048),
}


def imagenet_weights_file(backbone: str) -> Path:
    """Where torchvision's cache keeps the ImageNet weights of ``backbone``."""
    _, weights, _ = BACKBONES[backbone]
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def encoder_origin(backbone: str, pretrained: bool, weights_path: str | Path | None = None) -> str:
    """Where an :class:`Encoder` built with these arguments starts from, in words (provenance)."""
    if not pretrained:
        return f"{backbone}, random initialisation (pretrained off)"
    path = Path(weights_path) if weights_path is not None else imagenet_weights_file(backbone)
    if path.is_file():
        return f"{backbone}, ImageNet weights from {path}"
    return f"{backbone}, random initialisation (no ImageNet weights at {path})"


class Encoder(nn.Module):
    """ResNet trunk → (B, feature_dim) pooled features from images (B,3,H,W), ImageNet-normalised."""

    def __init__(
        self, backbone: str = "resnet50", weights_path: str | Path | None = None, pretrained: bool = True
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
        build, _, self.feature_dim = BACKBONES[backbone]
        network = build(weights=None)
        self.weights_source: str | None = None
        if pretrained:
            path = Path(weights_path) if weights_path is not None else imagenet_weights_file(backbone)
            if path.is_file():
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                self.weights_source = str(path)
            elif weights_path is not None:
                raise FileNotFoundError(
                    f"ImageNet weights {path} not found: pass the path of torchvision's "
                    f"{Path(BACKBONES[backbone][1].url).name}"
                )
            else:
                warnings.warn(
                    f"no ImageNet weights for {backbone} at {path}: the encoder starts from random initialisation. "
                    f"To use them, download {BACKBONES[backbone][1].url} to that path (or pass weights_path=).",
                    stacklevel=2,
                )
        network.fc = nn.Identity()
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(image)
