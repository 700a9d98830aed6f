"""The process's pool of threads for per-sample work that releases the GIL (the compiled
nearest-point searches of L_mr, SciPy's k-d trees): as many threads as torch uses."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import torch


@functools.cache
def _pool(workers: int, process_id: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hybridlib")


def cpu_threads() -> ThreadPoolExecutor:
    """One pool per process (a forked child gets its own) and per torch thread count."""
    return _pool(max(1, torch.get_num_threads()), os.getpid())
