"""Training: one loop for every study (:mod:`~hybridlib.training.loop`), configured by
:class:`TrainConfig`, around the generator step and the critic step."""

from hybridlib.training.checkpoint import load_checkpoint, save_checkpoint
from hybridlib.training.config import TrainConfig
from hybridlib.training.loop import TrainingDivergedError, TrainResult, train
from hybridlib.training.loss_log import read_loss_log, training_seconds

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "load_checkpoint",
    "read_loss_log",
    "training_seconds",
    "save_checkpoint",
    "train",
]
