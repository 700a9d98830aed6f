"""The image encoder: ImageNet weights from torchvision's cache or a file, never a download."""

from __future__ import annotations

import pytest
import torch

from hybridlib.models import Encoder
from hybridlib.models.encoder import encoder_origin, imagenet_weights_file


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


def test_the_encoders_origin_says_which_weights_it_starts_from(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert encoder_origin("resnet18", pretrained=False) == "resnet18, random initialisation (pretrained off)"
    cached = imagenet_weights_file("resnet18")
    assert (
        encoder_origin("resnet18", pretrained=True)
        == f"resnet18, random initialisation (no ImageNet weights at {cached})"
    )
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    assert encoder_origin("resnet18", pretrained=True) == f"resnet18, ImageNet weights from {cached}"
