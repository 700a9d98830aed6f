"""The tiny training run most tests use: ResNet-18 from random weights at 64 px on the generated
LSP + LSP extended set, the lite open body model, batch 4, 2 epochs, no progress bar."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hybridlib.body_model import OPEN_BODY_MODEL_LITE
from hybridlib.training import TrainConfig


def tiny_run_config(data_root: Path, out_dir: Path, **changes: object) -> TrainConfig:
    """The tiny run's configuration, with ``changes`` (TrainConfig fields) applied."""
    base = TrainConfig(
        data_root=str(data_root), out_dir=str(out_dir), use_lspet=True, image_size=64, backbone="resnet18",
        pretrained=False, body_model=str(OPEN_BODY_MODEL_LITE), batch_size=4, epochs=2, progress=False,
        checkpoint_every=1000,
    )  # fmt: skip
    return replace(base, **changes)
