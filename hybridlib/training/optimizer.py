"""The optimiser of every network here: Adam, fused where the device has the kernel."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def adam(parameters: Iterable[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one pass over all parameters on CPU and CUDA: on this
    project's CPU step it is ~4x faster than the per-tensor loop), the plain one elsewhere."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except RuntimeError:  # a device without a fused kernel
        return torch.optim.Adam(parameters, lr=lr)
