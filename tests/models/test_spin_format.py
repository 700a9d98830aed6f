"""SPIN-format checkpoints: the layout loads from a file saved as SPIN saves it, predicts Θ in
hybridlib's layout, evaluates like a trained model, and anything else is refused by name."""

from __future__ import annotations

import math
import pickle

import pytest
import roma
import torch
from pickle_payloads import WritesAFile

from hybridlib.evaluation import EvaluationConfig, evaluate_spin_checkpoint
from hybridlib.geometry import axis_angle_to_rotation_matrix
from hybridlib.models.regressor import mean_theta
from hybridlib.models.spin_format import (
    SpinCheckpointError,
    SpinFormatRegressor,
    load_spin_checkpoint,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from hybridlib.skeleton import THETA_LAYOUT


def _rotations(theta: torch.Tensor) -> torch.Tensor:
    return axis_angle_to_rotation_matrix(theta[:, 3:75].reshape(-1, 24, 3))


def test_6d_rotations_round_trip():
    rotations = roma.random_rotmat(50, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rotation_6d_to_matrix(matrix_to_rotation_6d(rotations)), rotations, atol=1e-5, rtol=0)


def test_untrained_heads_predict_theta_0_in_hybridlibs_layout():
    torch.manual_seed(0)
    model = SpinFormatRegressor().eval()
    for head in (model.decpose, model.decshape, model.deccam):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    stages = model(torch.randn(2, 3, 64, 64))
    expected = mean_theta().expand(2, -1)
    assert len(stages) == 3 and stages[-1].shape == (2, THETA_LAYOUT.size)
    torch.testing.assert_close(stages[-1][:, THETA_LAYOUT.camera], expected[:, THETA_LAYOUT.camera])
    torch.testing.assert_close(stages[-1][:, THETA_LAYOUT.betas], expected[:, THETA_LAYOUT.betas])
    torch.testing.assert_close(_rotations(stages[-1]), _rotations(expected), atol=1e-5, rtol=0)


def _save_as_spin_does(model: SpinFormatRegressor, path, *, drop_batch_counters: bool = False) -> None:
    """SPIN's trainer saves {'model': state_dict (DataParallel-prefixed here), 'optimizer': ..., 'epoch': ...}."""
    state = {
        f"module.{key}": value
        for key, value in model.state_dict().items()
        if not (drop_batch_counters and key.endswith("num_batches_tracked"))
    }
    torch.save(
        {"model": state, "optimizer": {"state": {}, "param_groups": [{"lr": 5e-5}]}, "epoch": 3, "batch_size": 64}, path
    )


def test_a_checkpoint_saved_in_spins_layout_loads_and_predicts_the_same(tmp_path):
    torch.manual_seed(1)
    original = SpinFormatRegressor().eval()
    path = tmp_path / "model_checkpoint.pt"
    _save_as_spin_does(original, path, drop_batch_counters=True)
    loaded = load_spin_checkpoint(path)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images)[-1], original(images)[-1])


def test_other_files_are_refused_with_the_file_named(tmp_path):
    not_spin = tmp_path / "hybridlib_run.pt"
    torch.save({"model": {"encoder.backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}}, not_spin)
    with pytest.raises(SpinCheckpointError, match=r"hybridlib_run\.pt is not in SPIN's layout: missing"):
        load_spin_checkpoint(not_spin)
    wrong_head = tmp_path / "wrong_head.pt"
    model = SpinFormatRegressor()
    model.decpose = torch.nn.Linear(1024, 72)
    torch.save({"model": model.state_dict()}, wrong_head)
    with pytest.raises(SpinCheckpointError, match=r"wrong shapes for decpose"):
        load_spin_checkpoint(wrong_head)
    with pytest.raises(SpinCheckpointError, match="no such file"):
        load_spin_checkpoint(tmp_path / "absent.pt")


def test_a_checkpoint_carrying_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "model_checkpoint.pt"
    with open(
        path, "wb"
    ) as handle:  # torch.save's zip container would need a real module; a bare pickle is what an attacker ships
        pickle.dump({"model": WritesAFile(marker)}, handle, protocol=2)
    with pytest.raises(SpinCheckpointError, match="not a readable PyTorch checkpoint"):
        load_spin_checkpoint(path)
    assert not marker.exists()


def test_evaluating_a_spin_checkpoint_gives_a_row_like_a_trained_model(generated_root, tmp_path):
    torch.manual_seed(2)
    path = tmp_path / "model_checkpoint.pt"
    _save_as_spin_does(SpinFormatRegressor(), path)
    row = evaluate_spin_checkpoint(path, generated_root, config=EvaluationConfig(progress=False), image_size=64)
    assert len(row) == 1 and row.loc[0, "test_images"] == 6
    for column in ("kpr_loss", "mr_loss", "pck_0.2", "silhouette_iou", "joints_outside_limits_pct", "mpjpe_mm"):
        assert math.isfinite(row.loc[0, column]), column
