"""What machine this is: CPU model and flags (``/proc/cpuinfo``), cores, torch threads, GPU.
Every benchmark prints :func:`machine_description` first and every study's provenance records
it, because machines of one kind differ between sessions (AMD EPYC, or Intel Xeon with AMX-BF16);
the precision probe reads the bf16 flags from here."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

# CPU flags that decide which kernels torch runs (vector width, bf16 and AMX units)
_RELEVANT_FLAGS = ("avx", "amx", "fma")


def _cpuinfo_field(name: str) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return ""
    found = re.search(rf"^{name}\s*:\s*(.+)$", cpuinfo.read_text(), flags=re.MULTILINE)
    return found.group(1).strip() if found else ""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The CPU's AVX / AMX / FMA flags ([] where /proc/cpuinfo is absent)."""
    return [flag for flag in _cpuinfo_field("flags").split() if flag.startswith(_RELEVANT_FLAGS)]


def widest_vector_unit() -> str:
    """The CPU's widest matrix / vector unit torch's kernels use: "amx", "avx512bf16", "avx512",
    "avx2", or "" where none of them is listed. Machines of one model name differ in it (an AMD
    EPYC with AVX2 only, another with AVX-512 and bf16), and so do their timings."""
    flags = set(cpu_flags())
    for unit, flag in (("amx", "amx_bf16"), ("avx512bf16", "avx512_bf16"), ("avx512", "avx512f"), ("avx2", "avx2")):
        if flag in flags:
            return unit
    return ""


def machine_name(device: torch.device | None = None) -> str:
    """'cpu-<cores>c-<model>-<widest vector unit>' or 'cuda-<device>' (for a CUDA ``device``; by
    default where CUDA is available), file-name safe (the benchmark CSVs' names)."""
    if device.type == "cuda" if device is not None else torch.cuda.is_available():
        return _file_safe(f"cuda-{torch.cuda.get_device_name(device)}")[:80]
    return _file_safe(f"cpu-{os.cpu_count()}c-{_file_safe(cpu_model())[:60]}-{widest_vector_unit()}")


def _file_safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def machine_description() -> str:
    """One line: CPU model, cores, relevant flags, torch version and threads, and the GPU if any."""
    gpu = f"; GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, flags: {' '.join(cpu_flags()) or 'none listed'}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads{gpu}"
    )
