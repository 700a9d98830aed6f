"""The image encoder: ImageNet weights from torchvision's cache or a file, never a download."""

from __future__ import annotations

import pytest
import torch

from hybridlib.checksum import sha256_of
from hybridlib.models import Encoder
from hybridlib.models.encoder import encoder_origin, imagenet_weights_file, read_encoder_weights, save_encoder_weights


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
    torch.save({"fc.bias": torch.zeros(1000)}, cached)  # a state dict, as torchvision's file is
    assert encoder_origin("resnet18", pretrained=True) == f"resnet18, ImageNet weights from {cached}"


def test_an_encoder_weights_file_of_hybridlib_loads_its_float16_trunk_and_names_where_it_came_from(tmp_path):
    trained = Encoder("resnet18", pretrained=False)
    with torch.no_grad():
        trained.network.conv1.weight.mul_(3.0)
        trained.network.bn1.running_mean.add_(0.25)
    path = save_encoder_weights(trained, tmp_path / "encoder.pt", {"summary": "made by a test"})
    payload = read_encoder_weights(path)
    assert payload["backbone"] == "resnet18" and payload["state_dict"]["conv1.weight"].dtype == torch.float16
    assert not any(name.startswith("fc.") for name in payload["state_dict"])
    loaded = Encoder("resnet18", weights_path=path)
    assert loaded.weights_source == str(path)
    torch.testing.assert_close(loaded.network.conv1.weight, trained.network.conv1.weight.half().float())
    torch.testing.assert_close(loaded.network.bn1.running_mean, trained.network.bn1.running_mean.half().float())
    loaded.eval(), trained.eval()
    images = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(loaded(images), trained(images), rtol=2e-2, atol=2e-2)  # float16 rounding only
    assert (
        encoder_origin("resnet18", True, path)
        == f"resnet18, encoder.pt (sha256 {sha256_of(path)[:12]}): made by a test"
    )
    with pytest.raises(ValueError, match=r"encoder\.pt are for resnet18, not resnet34"):
        Encoder("resnet34", weights_path=path)


def test_an_imagenet_state_dict_is_not_taken_for_an_encoder_weights_file(tmp_path):
    path = tmp_path / "imagenet.pth"
    torch.save(Encoder("resnet18", pretrained=False).network.state_dict(), path)
    assert read_encoder_weights(path) is None


def test_a_truncated_encoder_weights_file_is_refused_naming_it_and_the_fix(tmp_path):
    path = save_encoder_weights(Encoder("resnet18", pretrained=False), tmp_path / "encoder.pt", {})
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"encoder\.pt cannot be read .*make pretrained-encoder"):
        Encoder("resnet18", weights_path=path)
