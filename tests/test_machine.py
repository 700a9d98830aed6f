"""What machine this is, as benchmarks print it and provenance records it."""

from __future__ import annotations

import os
import re

import torch

from hybridlib.machine import cpu_flags, cpu_model, machine_description, machine_name


def test_the_machine_is_described_by_cpu_cores_flags_and_torch():
    description = machine_description()
    assert description.startswith(cpu_model()) and f"{os.cpu_count()} cores" in description
    assert f"torch {torch.__version__}, {torch.get_num_threads()} threads" in description
    assert all(flag.startswith(("avx", "amx", "fma")) for flag in cpu_flags())
    assert re.fullmatch(r"[a-z0-9-]+", machine_name(torch.device("cpu"))) and len(machine_name()) <= 80
