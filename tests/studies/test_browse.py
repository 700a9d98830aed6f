"""The browser's view: labels alone, and a run's prediction with the image's losses."""

from __future__ import annotations

import pytest
from tiny_runs import tiny_run_config

from hybridlib.studies.browse import browser, dataset_for, render_view
from hybridlib.training import train


def test_views_show_labels_and_with_a_run_the_prediction_and_losses(generated_root, tmp_path):
    dataset = dataset_for(generated_root, "LSP test", 64)
    labels_only = render_view(dataset, 0)
    assert labels_only.image.shape == (64, 64, 3) and labels_only.numbers["image"] == "im0007.jpg"
    config = tiny_run_config(generated_root, tmp_path / "run", use_lspet=False, max_steps=1, critic="none")
    result = train(config)
    with_run = render_view(dataset, 0, result.networks)
    assert with_run.image.shape == (64, 128, 3)
    assert with_run.numbers["KPR loss (×60)"] > 0 and with_run.numbers["MR loss (×0.001)"] > 0
    assert len(dataset_for(generated_root, "LSP extended", 64)) == 14
    with pytest.raises(ValueError, match="split must be one of"):
        dataset_for(generated_root, "MPII", 64)
    widget = browser(generated_root, [config.checkpoint_path], image_size=64)
    picture = widget.children[1].children[0]
    assert picture.value[:4] == b"\x89PNG"
