"""What machine this is, as benchmarks print it and provenance records it."""

from __future__ import annotations

import os
import re

import pytest
import torch

import hybridlib.machine as machine
from hybridlib.machine import cpu_flags, cpu_model, machine_description, machine_name


def test_the_machine_is_described_by_cpu_cores_flags_and_torch():
    description = machine_description()
    assert description.startswith(cpu_model()) and f"{os.cpu_count()} cores" in description
    assert f"torch {torch.__version__}, {torch.get_num_threads()} threads" in description
    assert all(flag.startswith(("avx", "amx", "fma")) for flag in cpu_flags())
    assert re.fullmatch(r"[a-z0-9-]+", machine_name(torch.device("cpu"))) and len(machine_name()) <= 80


@pytest.mark.parametrize(
    ("flags", "unit"),
    [
        (["avx", "avx2", "avx512f", "avx512_bf16", "amx_bf16"], "amx"),
        (["avx", "avx2", "avx512f", "avx512_bf16"], "avx512bf16"),
        (["avx", "avx2", "avx512f"], "avx512"),
        (["avx", "avx2", "fma"], "avx2"),
    ],
)
def test_machines_of_one_model_with_other_vector_units_get_other_names(monkeypatch, flags, unit):
    monkeypatch.setattr(machine, "cpu_flags", lambda: flags)
    monkeypatch.setattr(machine, "cpu_model", lambda: "AMD EPYC " + "x" * 100)
    name = machine_name(torch.device("cpu"))
    assert machine.widest_vector_unit() == unit and name.endswith(f"-{unit}") and name.startswith("cpu-")
    assert len(name) <= 80
