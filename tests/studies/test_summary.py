"""The README's results block, built from the committed results files."""

from __future__ import annotations

import re

import pandas as pd

from hybridlib.paths import REPOSITORY_ROOT


def test_the_readme_results_block_is_built_from_the_committed_files():
    from hybridlib.studies.summary import results_section, study_summary

    overfit = study_summary("01_overfit_8_images", "cpu")
    table = pd.read_csv(REPOSITORY_ROOT / "results" / "01_overfit_8_images" / "cpu" / "table.csv")
    assert overfit is not None and f"{table['kpr_loss'].iloc[0]:.3f}" in overfit
    assert re.search("HOLDS|INCONCLUSIVE", overfit)  # the findings come with the table
    assert study_summary("01_overfit_8_images", "no-such-preset") is None
    readme = (REPOSITORY_ROOT / "README.md").read_text()
    assert results_section("cpu") in readme, (
        "README's results block is stale: run python -m hybridlib.studies.summary --preset cpu --readme"
    )
