"""Provenance of a study run: preset and parameters, seeds, data source and its seed, body
model file and checksum, the encoder's origin, epochs, device and CPU, library versions, git
commit and wall time."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import torch

from hybridlib.checksum import sha256_of
from hybridlib.machine import machine_description
from hybridlib.models.encoder import encoder_origin
from hybridlib.models.regressor import regressor_origin
from hybridlib.paths import REPOSITORY_ROOT, in_checkout
from hybridlib.studies.presets import StudySettings


def git_commit() -> str:
    """The checkout's HEAD commit, with "+dirty" when tracked files outside results/ changed (a
    study rewriting its own committed results does not make the code dirty); "unknown" outside
    git and for an installed (non-checkout) copy, whose folder may sit inside some other repository."""
    if not in_checkout():
        return "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
            cwd=REPOSITORY_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def collect_provenance(settings: StudySettings, data_dir: Path, device: torch.device, wall_seconds: float) -> dict:
    """Everything needed to say where a result came from (JSON-ready)."""
    generator_config = data_dir / "generator_config.json"
    data = {"path": str(data_dir), "kind": "generated" if generator_config.is_file() else "user-provided"}
    if generator_config.is_file():
        data["generator"] = json.loads(generator_config.read_text())
    preset = settings.preset
    body_model = Path(preset.body_model)
    return {
        "study": settings.study,
        "preset": asdict(preset),
        "parameters": settings.parameters,
        "data": data,
        "body_model": {"path": str(body_model), "sha256": sha256_of(body_model) if body_model.is_file() else None},
        "seeds": list(settings.seeds),
        "encoder": encoder_origin(preset.backbone, preset.pretrained, preset.encoder_weights),
        "regressor": regressor_origin(preset.regressor_weights),
        "epochs": {"lsp": preset.epochs_lsp, "lsp_and_lspet": preset.epochs_lspet},
        "device": str(device)
        + (
            f" ({torch.cuda.get_device_name(device)})"
            if device.type == "cuda"
            else f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
        ),
        "machine": machine_description(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "git_commit": git_commit(),
        "wall_seconds_this_invocation": round(wall_seconds, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
