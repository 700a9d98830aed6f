"""Atomic checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint is written to ``<name>.tmp``, flushed to disk and renamed over the old one
(:mod:`hybridlib.atomic_write`), so a crash or a full disk while writing never leaves a broken
file: the previous checkpoint stays until the new one is whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hybridlib.atomic_write import atomic_write

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, state dicts, plain Python values) atomically to ``path``."""
    return atomic_write(
        path, lambda handle: torch.save({"format": CHECKPOINT_FORMAT, **state}, handle), what="checkpoint"
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (weights only: nothing is executed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found: train first (hybridlib.training.train) or pass the right path"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ValueError(
            f"cannot read checkpoint {path} ({error}); it is not a hybridlib checkpoint or it is damaged"
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a hybridlib checkpoint (format {CHECKPOINT_FORMAT})")
    return state
