"""Provenance of a study run: the body model's checksum, the data's kind, the device, the git
commit, all JSON-ready."""

from __future__ import annotations

import json
import os
import re

import torch

from hybridlib.checksum import sha256_of
from hybridlib.studies import provenance, resolve_settings
from hybridlib.studies.provenance import collect_provenance, git_commit


def test_git_commit_is_a_commit_or_unknown(monkeypatch):
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", git_commit())
    monkeypatch.setattr(provenance, "in_checkout", lambda: False)  # an installed copy
    assert git_commit() == "unknown"


def test_provenance_names_the_data_body_model_and_device(generated_root, small_config, tmp_path):
    settings = resolve_settings("02_lsp_ablation", PRESET="smoke", SEEDS=[4], OUT_DIR=str(tmp_path / "out"))
    record = collect_provenance(settings, generated_root, torch.device("cpu"), wall_seconds=12.34)
    json.dumps(record)  # JSON-ready as it is
    assert record["study"] == "02_lsp_ablation" and record["preset"]["name"] == "smoke"
    assert record["parameters"]["SEEDS"] == [4] and record["wall_seconds_this_invocation"] == 12.3
    assert record["data"]["kind"] == "generated" and record["data"]["generator"]["seed"] == small_config.seed
    assert record["body_model"] == {
        "path": settings.preset.body_model,
        "sha256": sha256_of(settings.preset.body_model),
    }
    assert record["epochs"] == {"lsp": settings.preset.epochs_lsp, "lsp_and_lspet": settings.preset.epochs_lspet}
    assert record["device"].startswith("cpu (") and f"{torch.get_num_threads()} threads" in record["device"]
    assert record["versions"]["torch"] == torch.__version__
    assert record["seeds"] == [4] and record["encoder"] == "resnet18, random initialisation (pretrained off)"
    assert f"{os.cpu_count()} cores" in record["machine"] and "torch" in record["machine"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", record["git_commit"])
    user_data = tmp_path / "user data"
    user_data.mkdir()
    assert collect_provenance(settings, user_data, torch.device("cpu"), 0.0)["data"] == {
        "path": str(user_data),
        "kind": "user-provided",
    }
