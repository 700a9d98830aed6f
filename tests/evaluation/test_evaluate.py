"""The evaluation of a trained checkpoint end to end: one row with every metric."""

from __future__ import annotations

import math

from tiny_runs import tiny_run_config

from hybridlib.evaluation import EvaluationConfig, evaluate_checkpoint
from hybridlib.training import train


def test_evaluating_a_checkpoint_gives_one_row_with_every_metric(generated_root, tmp_path):
    config = tiny_run_config(generated_root, tmp_path / "run", use_lspet=False, max_steps=1, critic="without_rotation")
    train(config)
    row = evaluate_checkpoint(config.checkpoint_path, config=EvaluationConfig(progress=False, batch_size=4))
    assert len(row) == 1 and row["test_images"].item() == 6 and row["critic"].item() == "without_rotation"
    for column in (
        "kpr_loss",
        "mr_loss",
        "pck_0.2",
        "silhouette_iou",
        "joints_outside_limits_pct",
        "critic_score",
        "mpjpe_mm",
        "pa_mpjpe_mm",
    ):
        assert math.isfinite(row[column].item()), column
    assert 0 <= row["silhouette_iou"].item() <= 1 and row["mpjpe_mm"].item() > row["pa_mpjpe_mm"].item()
