"""Study tables: the paper's numbers joined beside ours in ``paper_`` columns, means and spreads
over seeds, the table and findings files, and the paper's claims tested on per-seed rows."""

from __future__ import annotations

import pandas as pd
import pytest

from hybridlib.evaluation.report import (
    PAPER_TABLE_1,
    PAPER_TABLE_2,
    TRIVIAL_LABEL,
    beside_paper,
    mean_over_seeds,
    table_1_findings,
    table_2_findings,
    versus_trivial,
    with_spread,
    write_findings,
    write_table,
)
from hybridlib.evaluation.verdicts import Verdict


def test_the_papers_numbers_sit_beside_ours_and_seeds_are_averaged():
    rows = pd.DataFrame(
        {
            "configuration": ["KPR only", "KPR only", "combined", "pretrained"],
            "seed": [0, 1, 0, 0],
            "kpr_loss": [1.0, 3.0, 2.0, 5.0],
            "mr_loss": [10.0, 10.0, 20.0, 50.0],
            "train_seconds": [9.0, 9.0, 9.0, 9.0],  # not a measured column: left out
        }
    )
    averaged = mean_over_seeds(rows, ["configuration"])
    assert list(averaged["configuration"]) == ["KPR only", "combined", "pretrained"]  # in order of appearance
    assert averaged["kpr_loss"].tolist() == [2.0, 2.0, 5.0] and averaged["seeds"].tolist() == [2, 1, 1]
    assert averaged["kpr_loss_std"].iloc[0] == pytest.approx(2**0.5) and averaged["kpr_loss_std"].iloc[1:].isna().all()
    assert "train_seconds" not in averaged.columns and "seed" not in averaged.columns
    table = beside_paper(averaged, PAPER_TABLE_2, ["configuration"])
    assert list(table.columns) == [
        "configuration", "kpr_loss", "mr_loss", "kpr_loss_std", "mr_loss_std", "seeds",
        "paper_kpr_loss", "paper_mr_loss",
    ]  # fmt: skip
    assert table["paper_kpr_loss"].tolist()[:2] == [3.85, 3.20] and pd.isna(table["paper_kpr_loss"].iloc[2])
    assert table["kpr_loss"].tolist() == averaged["kpr_loss"].tolist()  # ours never replaced by the paper's
    assert all(column.startswith("paper_") for column in PAPER_TABLE_1.columns if column not in ("critic", "losses"))


def test_write_table_writes_csv_and_markdown_with_mean_and_spread(tmp_path):
    table = pd.DataFrame({"configuration": ["KPR only", "one seed"], "kpr_loss": [1.23456, 2.0]})
    table["kpr_loss_std"] = [0.0421, float("nan")]
    csv_path, markdown_path = write_table(table, tmp_path / "out")
    assert (csv_path, markdown_path) == (tmp_path / "out" / "table.csv", tmp_path / "out" / "table.md")
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), table)  # the numbers, spread apart
    markdown = markdown_path.read_text()
    assert markdown.startswith("| configuration") and "1.235 ± 0.042" in markdown and "kpr_loss_std" not in markdown
    assert "| 2.000 " in markdown and "2.000 ±" not in markdown  # one seed: no spread shown
    assert list(with_spread(table).columns) == ["configuration", "kpr_loss"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["table.csv", "table.md"]


def _table_1_rows(seeds: int = 3, **changes: float) -> pd.DataFrame:
    """Per-seed Table 1 rows: seed s adds 0.3·s to every loss (the seeds' shared part)."""
    rows = []
    for seed in range(seeds):
        for critic, outside in (("without critic", 4.0), ("with critic", 2.0)):
            for losses, kpr, mr in (("KPR only", 4.0, 50.0), ("MR only", 14.0, 16.0), ("combined", 3.9, 37.0)):
                rows.append(
                    {
                        "critic": critic,
                        "losses": losses,
                        "seed": seed,
                        "kpr_loss": changes.get(f"{critic}/{losses}/kpr", kpr) + 0.3 * seed + 0.01 * (seed == 1),
                        "mr_loss": mr + 0.3 * seed,
                        "joints_outside_limits_pct": outside + 0.1 * seed**2,
                    }
                )
    return pd.DataFrame(rows)


def test_the_papers_claims_are_tested_on_the_per_seed_rows(tmp_path):
    findings = table_1_findings(_table_1_rows())
    assert len(findings) == 5 and [finding.verdict for finding in findings] == [Verdict.HOLDS] * 5
    worse = table_1_findings(_table_1_rows(**{"with critic/combined/kpr": 4.5}))  # combined loses to KPR only
    assert [finding.verdict.value for finding in worse] == ["HOLDS", "HOLDS", "DOES NOT HOLD", "HOLDS", "HOLDS"]
    assert str(worse[2]).startswith("DOES NOT HOLD: with critic: combined beats KPR only on both validation losses")
    assert "KPR combined − KPR only: +0.5 (+11.6%)" in str(worse[2])
    one_seed = table_1_findings(_table_1_rows(seeds=1))
    assert all(finding.verdict is Verdict.INCONCLUSIVE for finding in one_seed)  # no estimate of the noise
    with pytest.raises(KeyError, match="no rows with"):
        table_1_findings(_table_1_rows()[lambda rows: rows["losses"] != "MR only"])
    table_2 = pd.DataFrame(
        {
            "configuration": ["KPR only", "combined", "HMR baseline"] * 2,
            "seed": [0, 0, 0, 1, 1, 1],
            "kpr_loss": [3.0, 2.0, 1.0, 3.5, 2.4, 1.5],
            "mr_loss": [30.0, 20.0, 25.0, 31.0, 22.0, 24.0],
        }
    )
    assert [finding.verdict.value for finding in table_2_findings(table_2)] == ["HOLDS", "INCONCLUSIVE"]
    path = write_findings(table_2_findings(table_2), tmp_path)
    assert path == tmp_path / "findings.md"
    text = path.read_text()
    assert text.startswith("# Findings\n\nEach difference is a mean over seeds with its 95% interval (paired t-test")
    assert "\n- HOLDS: with LSP extended and the critic, combined beats KPR only" in text
    assert len(pd.read_csv(tmp_path / "findings.csv")) == 4  # one row per comparison


def test_every_trained_configuration_is_compared_with_the_trivial_predictor():
    rows = pd.DataFrame(
        {
            "configuration": ["combined", TRIVIAL_LABEL] * 3,
            "seed": [0, 0, 1, 1, 2, 2],
            "kpr_loss": [5.0, 8.0, 5.5, 8.0, 4.8, 8.0],
            "pck_0.2": [61.0, 20.0, 65.0, 20.0, 63.0, 20.0],
            "pa_mpjpe_mm": [150.0, 195.0, 140.0, 195.0, 199.0, 195.0],
        }
    )
    (learned,) = versus_trivial(rows, ["configuration"], {"configuration": TRIVIAL_LABEL})
    assert learned.claim == "combined is better than the trivial predictor"
    assert [result.verdict.value for result in learned.results] == ["HOLDS", "HOLDS", "INCONCLUSIVE"]
    assert learned.verdict is Verdict.INCONCLUSIVE and "PCK@0.2 − trivial: +43" in str(learned)
