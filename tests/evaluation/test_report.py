"""Study tables: the paper's numbers joined beside ours in ``paper_`` columns, means over seeds,
the table and findings files, and the findings read off the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from hybridlib.evaluation.report import (
    PAPER_TABLE_1,
    PAPER_TABLE_2,
    Finding,
    beside_paper,
    mean_over_seeds,
    table_1_findings,
    table_2_findings,
    write_findings,
    write_table,
)


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
    assert averaged["kpr_loss"].tolist() == [2.0, 2.0, 5.0] and averaged["kpr_loss_std"].tolist() == [1.0, 0.0, 0.0]
    assert "train_seconds" not in averaged.columns and "seed" not in averaged.columns
    table = beside_paper(averaged, PAPER_TABLE_2, ["configuration"])
    assert list(table.columns) == ["configuration", "kpr_loss", "mr_loss", "paper_kpr_loss", "paper_mr_loss"]
    assert table["paper_kpr_loss"].tolist()[:2] == [3.85, 3.20] and pd.isna(table["paper_kpr_loss"].iloc[2])
    assert table["kpr_loss"].tolist() == averaged["kpr_loss"].tolist()  # ours never replaced by the paper's
    assert all(column.startswith("paper_") for column in PAPER_TABLE_1.columns if column not in ("critic", "losses"))


def test_write_table_writes_csv_and_markdown(tmp_path):
    table = pd.DataFrame({"configuration": ["KPR only"], "kpr_loss": [1.23456]})
    csv_path, markdown_path = write_table(table, tmp_path / "out")
    assert (csv_path, markdown_path) == (tmp_path / "out" / "table.csv", tmp_path / "out" / "table.md")
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), table)
    markdown = markdown_path.read_text()
    assert markdown.startswith("| configuration") and "1.235" in markdown and "1.2346" not in markdown
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["table.csv", "table.md"]


def _table_1(**changes: float) -> pd.DataFrame:
    rows = []
    for critic, outside in (("without critic", 4.0), ("with critic", 2.0)):
        for losses, kpr, mr in (("KPR only", 4.0, 50.0), ("MR only", 14.0, 16.0), ("combined", 3.9, 37.0)):
            rows.append(
                {
                    "critic": critic,
                    "losses": losses,
                    "kpr_loss": changes.get(f"{critic}/{losses}/kpr", kpr),
                    "mr_loss": mr,
                    "joints_outside_limits_pct": outside,
                    "bone_length_deviation_pct": 1.5,
                }
            )
    return pd.DataFrame(rows)


def test_findings_are_read_off_the_numbers_and_written_one_per_line(tmp_path):
    findings = table_1_findings(_table_1())
    assert len(findings) == 5 and all(finding.holds for finding in findings)
    worse = table_1_findings(_table_1(**{"with critic/combined/kpr": 4.5}))  # combined loses to KPR only
    assert [finding.holds for finding in worse] == [True, True, False, True, True]
    assert str(worse[2]).startswith("DOES NOT HOLD: with critic: combined beats KPR only")
    assert "KPR 4.500 vs 4.000" in worse[2].evidence
    with pytest.raises(KeyError, match="expected one row"):
        table_1_findings(_table_1().iloc[1:])
    table_2 = pd.DataFrame({"configuration": ["KPR only", "combined"], "kpr_loss": [3.0, 2.0], "mr_loss": [30.0, 20.0]})
    assert [finding.holds for finding in table_2_findings(table_2)] == [True]
    path = write_findings([Finding("a claim", True, "1 vs 2"), Finding("another", False, "3 vs 4")], tmp_path)
    assert path == tmp_path / "findings.md"
    assert path.read_text() == "# Findings\n\n- HOLDS: a claim (1 vs 2)\n- DOES NOT HOLD: another (3 vs 4)\n"
