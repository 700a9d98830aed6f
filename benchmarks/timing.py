"""The one timer every benchmark uses."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(
    *functions: Callable[[], object], repeats: int, warmup: int = 1, device: torch.device | None = None
) -> tuple[float, ...]:
    """Median wall seconds of each function over ``repeats`` calls, timed in alternation
    (f1, f2, …, f1, f2, …) after ``warmup`` calls of each, so that a shared machine's drift
    weighs on all of them alike. On a CUDA ``device`` the GPU is synchronised before the clock
    starts and before it stops, so a call's queued kernels count against it."""

    def synchronize() -> None:
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        for function in functions:
            function()
    durations: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for function, seconds in zip(functions, durations, strict=True):
            synchronize()
            started = time.perf_counter()
            function()
            synchronize()
            seconds.append(time.perf_counter() - started)
    return tuple(statistics.median(seconds) for seconds in durations)
