"""Image encoder: a torchvision ResNet without its classifier, global-average-pooled.

ResNet-50 gives HMR's 2048-d feature; resnet18/34 (512-d) are for CPU presets. Starting
weights are loaded from ``weights_path`` — torchvision's ImageNet file, or an encoder-weights
file of hybridlib's own (:func:`save_encoder_weights`: the trunk in float16 with its
provenance, e.g. the encoder pretrained on generated data, :mod:`hybridlib.studies.pretrain_encoder`)
— or, when present, from torchvision's download cache (``$TORCH_HOME/hub/checkpoints``);
hybridlib never downloads them (a download on a machine without network hangs). Without
weights the encoder starts from random initialisation with one warning that says where to put
the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from hybridlib.atomic_write import atomic_write
from hybridlib.checksum import sha256_of

BACKBONES = {
    "resnet18": (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1, 512),
    "resnet34": (torchvision.models.resnet34, torchvision.models.ResNet34_Weights.IMAGENET1K_V1, 512),
    "resnet50": (torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V1, 2048),
}


def imagenet_weights_file(backbone: str) -> Path:
    """Where torchvision's cache keeps the ImageNet weights of ``backbone``."""
    _, weights, _ = BACKBONES[backbone]
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


ENCODER_WEIGHTS_FORMAT = "hybridlib.encoder-weights/1"


def save_encoder_weights(encoder: Encoder, path: str | Path, provenance: dict[str, Any]) -> Path:
    """Write the encoder's trunk (float tensors as float16) with ``provenance`` (plain types:
    how it was made) to ``path`` atomically, for ``Encoder(weights_path=path)``."""
    state = {
        name: value.half() if value.is_floating_point() else value
        for name, value in encoder.network.state_dict().items()
    }
    payload = {
        "format": ENCODER_WEIGHTS_FORMAT,
        "backbone": encoder.backbone,
        "state_dict": state,
        "provenance": provenance,
    }
    return atomic_write(path, lambda handle: torch.save(payload, handle), what="encoder weights")


def _load_payload(path: str | Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupt or not a torch file: torch's message names neither
        raise ValueError(
            f"encoder weights {path} cannot be read ({type(error).__name__}): the file is truncated or not a "
            "weights file. Restore it (git checkout -- hybridlib/assets) or rebuild it with make pretrained-encoder"
        ) from error


def _is_ours(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == ENCODER_WEIGHTS_FORMAT


def read_encoder_weights(path: str | Path) -> dict[str, Any] | None:
    """The contents of a :func:`save_encoder_weights` file (``format``, ``backbone``,
    ``state_dict``, ``provenance``), or None when ``path`` holds something else (torchvision's
    ImageNet state dict); a file torch cannot read is refused naming it."""
    payload = _load_payload(path)
    return payload if _is_ours(payload) else None


def encoder_origin(backbone: str, pretrained: bool, weights_path: str | Path | None = None) -> str:
    """Where an :class:`Encoder` built with these arguments starts from, in words (provenance)."""
    if not pretrained:
        return f"{backbone}, random initialisation (pretrained off)"
    path = Path(weights_path) if weights_path is not None else imagenet_weights_file(backbone)
    if not path.is_file():
        return f"{backbone}, random initialisation (no ImageNet weights at {path})"
    ours = read_encoder_weights(path)
    if ours is None:
        return f"{backbone}, ImageNet weights from {path}"
    made = ours["provenance"].get("summary", "")
    return f"{backbone}, {path.name} (sha256 {sha256_of(path)[:12]}){': ' + made if made else ''}"


class Encoder(nn.Module):
    """ResNet trunk → (B, feature_dim) pooled features from images (B,3,H,W), ImageNet-normalised."""

    def __init__(
        self, backbone: str = "resnet50", weights_path: str | Path | None = None, pretrained: bool = True
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
        build, _, self.feature_dim = BACKBONES[backbone]
        self.backbone = backbone
        network = build(weights=None)
        self.weights_source: str | None = None
        if pretrained:
            path = Path(weights_path) if weights_path is not None else imagenet_weights_file(backbone)
            if path.is_file():
                _load_weights(network, path, backbone)
                self.weights_source = str(path)
            elif weights_path is not None:
                raise FileNotFoundError(
                    f"encoder weights {path} not found: pass the path of torchvision's "
                    f"{Path(BACKBONES[backbone][1].url).name} or of a hybridlib encoder-weights file"
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


def _load_weights(network: nn.Module, path: Path, backbone: str) -> None:
    """Load torchvision's ImageNet state dict, or a hybridlib encoder-weights file (no
    classifier, float16), into a freshly built ``network``."""
    ours = _load_payload(path)  # loaded once, whichever kind it is
    if not _is_ours(ours):
        network.load_state_dict(ours)
        return
    if ours["backbone"] != backbone:
        raise ValueError(
            f"encoder weights {path} are for {ours['backbone']}, not {backbone}: set the backbone to match"
        )
    state = {name: value.float() if value.is_floating_point() else value for name, value in ours["state_dict"].items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or [name for name in missing if not name.startswith("fc.")]:
        raise ValueError(
            f"encoder weights {path} do not fit {backbone}: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
