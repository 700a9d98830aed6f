"""TrainConfig: what it refuses, its plain-dict round trip and the parts it hands on."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridlib.models import NetworkConfig
from hybridlib.training import TrainConfig


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="critic must be one of"):
        TrainConfig(data_root=".", out_dir=".", critic="gan")
    with pytest.raises(ValueError, match="both 0"):
        TrainConfig(data_root=".", out_dir=".", w_kpr=0, w_mr=0)
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"data_root": ".", "out_dir": ".", "learning_rate": 1})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"w_mr": -1.0}, "w_mr must be ≥ 0"),
        ({"lr_critic": -1e-4}, "lr_critic must be ≥ 0"),
        ({"batch_size": 0}, "batch_size must be ≥ 1"),
        ({"num_stages": 0}, "num_stages must be ≥ 1"),
        ({"w_mr_ramp_fraction": 1.5}, r"w_mr_ramp_fraction must be in \[0, 1\]"),
    ],
)
def test_out_of_range_values_are_refused_with_their_name(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(data_root=".", out_dir=".", **changes)


def test_a_config_round_trips_through_a_plain_dict():
    config = TrainConfig(data_root="data", out_dir="run", critic="hmr", w_mr=0.0, max_steps=3, encoder_weights="w.pth")
    values = config.to_dict()
    assert all(isinstance(value, str | int | float | bool | type(None)) for value in values.values())
    assert TrainConfig.from_dict(values) == config


def test_networks_paths_and_log_come_from_the_config():
    config = TrainConfig(
        data_root="data", out_dir="run", backbone="resnet18", critic="without_rotation", num_stages=2, dropout=0.25,
        encoder_weights="w.pth", pretrained=False,
    )  # fmt: skip
    assert config.networks == NetworkConfig(
        backbone="resnet18", critic="without_rotation", num_stages=2, dropout=0.25, encoder_weights="w.pth",
        pretrained=False,
    )  # fmt: skip
    assert config.checkpoint_path == Path("run") / "checkpoint.pt"
    assert config.log_path == Path("run") / "losses.csv"
