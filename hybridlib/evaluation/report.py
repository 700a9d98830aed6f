"""Study tables in the paper's layout, the paper's numbers beside ours (never mixed), and
findings read off the numbers.

The paper's values (Pittner & Starlinger, Tables 1 and 2: validation losses on LSP's test
images after 120 epochs, weighted as in training) live only in :data:`PAPER_TABLE_1` and
:data:`PAPER_TABLE_2` and only ever appear in columns prefixed ``paper_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hybridlib.atomic_write import atomic_write_text

PAPER_TABLE_1 = pd.DataFrame(
    [
        ("without critic", "KPR only", 4.19, 51.66),
        ("without critic", "MR only", 13.95, 16.05),
        ("without critic", "combined", 3.92, 37.53),
        ("with critic", "KPR only", 4.70, 50.32),
        ("with critic", "MR only", 18.25, 92.44),
        ("with critic", "combined", 4.41, 44.03),
    ],
    columns=["critic", "losses", "paper_kpr_loss", "paper_mr_loss"],
)
PAPER_TABLE_2 = pd.DataFrame(
    [("KPR only", 3.85, 33.65), ("combined", 3.20, 30.02), ("HMR baseline", 2.64, 27.09)],
    columns=["configuration", "paper_kpr_loss", "paper_mr_loss"],
)
MEASURED_COLUMNS = (
    "kpr_loss", "mr_loss", "pck_0.2", "silhouette_iou", "mpjpe_mm", "pa_mpjpe_mm",
    "joints_outside_limits_pct", "bone_length_deviation_pct", "critic_score",
)  # fmt: skip


def beside_paper(measured: pd.DataFrame, paper: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Our rows (``keys`` + measured columns) with the paper's columns joined on ``keys``."""
    columns = keys + [column for column in MEASURED_COLUMNS if column in measured.columns]
    return measured[columns].merge(paper, on=keys, how="left")


def mean_over_seeds(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and standard deviation (``<column>_std``) of the measured columns over seeds."""
    measured = [column for column in MEASURED_COLUMNS if column in rows.columns]
    grouped = rows.groupby(keys, sort=False)[measured]
    mean, spread = grouped.mean(), grouped.std(ddof=0).add_suffix("_std")
    return pd.concat([mean, spread], axis=1).reset_index()


def write_table(
    table: pd.DataFrame, out_dir: str | Path, name: str = "table", float_format: str = ".3f"
) -> tuple[Path, Path]:
    """``<name>.csv`` and ``<name>.md`` (pandas' Markdown) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    atomic_write_text(csv_path, table.to_csv(index=False), what="table")
    atomic_write_text(markdown_path, table.to_markdown(index=False, floatfmt=float_format) + "\n", what="table")
    return csv_path, markdown_path


@dataclass(frozen=True)
class Finding:
    """A claim of the paper, whether it holds on these numbers, and the numbers."""

    claim: str
    holds: bool
    evidence: str

    def __str__(self) -> str:
        return f"{'HOLDS' if self.holds else 'DOES NOT HOLD'}: {self.claim} ({self.evidence})"


def _value(table: pd.DataFrame, column: str, **where: str) -> float:
    selected = table
    for key, value in where.items():
        selected = selected[selected[key] == value]
    if len(selected) != 1:
        raise KeyError(f"expected one row with {where} in the table, found {len(selected)}")
    return float(selected[column].iloc[0])


def table_1_findings(table: pd.DataFrame) -> list[Finding]:
    """The paper's Table 1 claims, checked on a table with columns critic, losses, kpr_loss, mr_loss, plausibility."""
    findings = []
    for critic in ("without critic", "with critic"):
        kpr = {
            losses: _value(table, "kpr_loss", critic=critic, losses=losses)
            for losses in ("KPR only", "MR only", "combined")
        }
        mr = {
            losses: _value(table, "mr_loss", critic=critic, losses=losses)
            for losses in ("KPR only", "MR only", "combined")
        }
        findings.append(
            Finding(
                f"{critic}: combined beats KPR only on both validation losses",
                kpr["combined"] < kpr["KPR only"] and mr["combined"] < mr["KPR only"],
                f"KPR {kpr['combined']:.3f} vs {kpr['KPR only']:.3f}, MR {mr['combined']:.3f} vs {mr['KPR only']:.3f}",
            )
        )
        findings.append(
            Finding(
                f"{critic}: MR only has a much worse KPR loss (more than twice combined's)",
                kpr["MR only"] > 2 * kpr["combined"],
                f"KPR {kpr['MR only']:.3f} vs {kpr['combined']:.3f} ({kpr['MR only'] / kpr['combined']:.1f}x)",
            )
        )
    outside = {
        critic: _value(table, "joints_outside_limits_pct", critic=critic, losses="combined")
        for critic in ("without critic", "with critic")
    }
    bones = {
        critic: _value(table, "bone_length_deviation_pct", critic=critic, losses="combined")
        for critic in ("without critic", "with critic")
    }
    findings.append(
        Finding(
            "the critic makes bodies more plausible (combined: fewer joints outside the anatomical limits)",
            outside["with critic"] < outside["without critic"],
            f"{outside['with critic']:.2f} % vs {outside['without critic']:.2f} % of joints; bone-length deviation "
            f"{bones['with critic']:.2f} % vs {bones['without critic']:.2f} %",
        )
    )
    return findings


def table_2_findings(table: pd.DataFrame) -> list[Finding]:
    """The paper's Table 2 claim (with LSP extended, combined beats KPR only), checked on our numbers."""
    kpr = {name: _value(table, "kpr_loss", configuration=name) for name in ("KPR only", "combined")}
    mr = {name: _value(table, "mr_loss", configuration=name) for name in ("KPR only", "combined")}
    return [
        Finding(
            "with LSP extended and the critic, combined beats KPR only on both validation losses",
            kpr["combined"] < kpr["KPR only"] and mr["combined"] < mr["KPR only"],
            f"KPR {kpr['combined']:.3f} vs {kpr['KPR only']:.3f}, MR {mr['combined']:.3f} vs {mr['KPR only']:.3f}",
        )
    ]


def write_findings(findings: list[Finding], out_dir: str | Path) -> Path:
    """``findings.md``: one line per claim, from the numbers."""
    path = Path(out_dir) / "findings.md"
    atomic_write_text(
        path, "# Findings\n\n" + "\n".join(f"- {finding}" for finding in findings) + "\n", what="findings"
    )
    return path
