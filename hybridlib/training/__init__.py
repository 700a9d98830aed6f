"""Training: one loop for every study, configured by :class:`TrainConfig`."""

from hybridlib.training.checkpoint import load_checkpoint, save_checkpoint
from hybridlib.training.config import TrainConfig
from hybridlib.training.loop import (
    TrainingDivergedError,
    TrainResult,
    build_networks,
    predict_body,
    read_loss_log,
    train,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "build_networks",
    "load_checkpoint",
    "predict_body",
    "read_loss_log",
    "save_checkpoint",
    "train",
]
