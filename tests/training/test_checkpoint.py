"""Checkpoints: atomic, weights-only, and a damaged or foreign file is refused by name."""

from __future__ import annotations

import pytest
import torch

from hybridlib.training import load_checkpoint, save_checkpoint


def test_a_damaged_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a hybridlib checkpoint or it is damaged"):
        load_checkpoint(bad)


def test_a_checkpoint_round_trips_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    weights = {"layer.weight": torch.arange(6.0).reshape(2, 3)}
    assert save_checkpoint(path, {"step": 4, "model": weights, "config": {"critic": "hmr"}}) == path
    state = load_checkpoint(path)
    assert state["step"] == 4 and state["config"] == {"critic": "hmr"}
    torch.testing.assert_close(state["model"]["layer.weight"], weights["layer.weight"])
    assert sorted(item.name for item in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_missing_or_foreign_checkpoint_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="train first"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"step": 1}, foreign)  # a readable file without hybridlib's format entry
    with pytest.raises(ValueError, match="is not a hybridlib checkpoint"):
        load_checkpoint(foreign)
