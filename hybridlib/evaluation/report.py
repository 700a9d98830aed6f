"""Study tables in the paper's layout, the paper's numbers beside ours (never mixed), and
findings read off the numbers.

The paper's values (Pittner & Starlinger, Tables 1 and 2: validation losses on LSP's test
images after 120 epochs, weighted as in training) live only in :data:`PAPER_TABLE_1` and
:data:`PAPER_TABLE_2` and only ever appear in columns prefixed ``paper_``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hybridlib.atomic_write import atomic_write_text
from hybridlib.evaluation.verdicts import CONFIDENCE, TEST_NAME, Comparison, Finding, finding, findings_table

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
    "kpr_loss_authors", "mr_loss_authors",  # by the authors' formulas (evaluation.authors_scale), beside paper_
)  # fmt: skip


def beside_paper(measured: pd.DataFrame, paper: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Our rows (``keys``, the measured columns with their ``_std`` and ``seeds`` where present)
    with the paper's columns joined on ``keys``."""
    ours = [column for column in MEASURED_COLUMNS if column in measured.columns]
    extra = [f"{column}_std" for column in ours if f"{column}_std" in measured.columns]
    columns = keys + ours + extra + (["seeds"] if "seeds" in measured.columns else [])
    return measured[columns].merge(paper, on=keys, how="left")


def mean_over_seeds(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and standard deviation (``<column>_std``, ddof 1; NaN from one seed) of the measured
    columns over seeds, and the number of seeds (``seeds``), one row per ``keys``, in order."""
    measured = [column for column in MEASURED_COLUMNS if column in rows.columns]
    grouped = rows.groupby(keys, sort=False, dropna=False)
    mean, spread = grouped[measured].mean(), grouped[measured].std(ddof=1).add_suffix("_std")
    return pd.concat([mean, spread, grouped.size().rename("seeds")], axis=1).reset_index()


def with_spread(table: pd.DataFrame, float_format: str = ".3f") -> pd.DataFrame:
    """For reading: each ``<column>`` that has a ``<column>_std`` shown as "mean ± std" (text),
    the ``_std`` columns dropped."""
    shown = table.copy()
    for column in [name for name in table.columns if f"{name}_std" in table.columns]:
        shown[column] = [
            f"{mean:{float_format}}" + ("" if pd.isna(std) else f" ± {std:{float_format}}")
            for mean, std in zip(table[column], table[f"{column}_std"], strict=True)
        ]
        shown = shown.drop(columns=f"{column}_std")
    return shown


def write_table(
    table: pd.DataFrame, out_dir: str | Path, name: str = "table", float_format: str = ".3f"
) -> tuple[Path, Path]:
    """``<name>.csv`` (numbers, ``_std`` columns apart) and ``<name>.md`` (pandas' Markdown,
    "mean ± std" where there is a spread) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    atomic_write_text(csv_path, table.to_csv(index=False), what="table")
    markdown = with_spread(table, float_format).to_markdown(index=False, floatfmt=float_format)
    atomic_write_text(markdown_path, markdown + "\n", what="table")
    return csv_path, markdown_path


TRIVIAL_LABEL = "trivial: mean Θ, no image"  # the no-image predictor (hybridlib.evaluation.trivial)


def _both_losses(better: dict[str, str], other: dict[str, str], names: tuple[str, str]) -> list[Comparison]:
    return [
        Comparison(metric, better, other, name=f"{label} {names[0]} − {names[1]}")
        for metric, label in (("kpr_loss", "KPR"), ("mr_loss", "MR"))
    ]


def table_1_findings(rows: pd.DataFrame) -> list[Finding]:
    """The paper's Table 1 claims, tested on per-seed rows (columns seed, critic, losses,
    kpr_loss, mr_loss, joints_outside_limits_pct): :mod:`hybridlib.evaluation.verdicts`."""
    findings = []
    for critic in ("without critic", "with critic"):
        combined, kpr_only = {"critic": critic, "losses": "combined"}, {"critic": critic, "losses": "KPR only"}
        mr_only = {"critic": critic, "losses": "MR only"}
        findings.append(
            finding(
                f"{critic}: combined beats KPR only on both validation losses",
                rows,
                _both_losses(combined, kpr_only, ("combined", "KPR only")),
            )
        )
        findings.append(
            finding(
                f"{critic}: MR only has a much worse KPR loss (more than twice combined's)",
                rows,
                [Comparison("kpr_loss", combined, mr_only, factor=2.0, name="2 × KPR combined − KPR MR only")],
            )
        )
    findings.append(
        finding(
            "the critic makes bodies more plausible (combined: fewer joints outside the anatomical limits)",
            rows,
            [
                Comparison(
                    "joints_outside_limits_pct",
                    {"critic": "with critic", "losses": "combined"},
                    {"critic": "without critic", "losses": "combined"},
                    name="% joints outside limits, with − without critic",
                )
            ],
        )
    )
    return findings


def table_2_findings(rows: pd.DataFrame) -> list[Finding]:
    """The paper's Table 2 results (with LSP extended, combined beats KPR only; the HMR baseline
    has the lowest losses), tested on per-seed rows (columns seed, configuration, losses)."""
    combined, kpr_only, hmr = ({"configuration": name} for name in ("combined", "KPR only", "HMR baseline"))
    return [
        finding(
            "with LSP extended and the critic, combined beats KPR only on both validation losses",
            rows,
            _both_losses(combined, kpr_only, ("combined", "KPR only")),
        ),
        finding(
            "the HMR baseline has lower validation losses than combined (the paper's Table 2)",
            rows,
            _both_losses(hmr, combined, ("HMR", "combined")),
        ),
    ]


TRIVIAL_METRICS = (("kpr_loss", "KPR", False), ("pck_0.2", "PCK@0.2", True), ("pa_mpjpe_mm", "PA-MPJPE mm", False))


def versus_trivial(rows: pd.DataFrame, keys: list[str], trivial: dict[str, str]) -> list[Finding]:
    """Every trained configuration against the trivial predictor's row ``trivial`` (repeated for
    every seed) on L_kpr, PCK@0.2 and PA-MPJPE: the claim that it learned from the images."""
    configurations = rows[keys].drop_duplicates()
    findings = []
    for configuration in configurations.to_dict("records"):
        if configuration == trivial:
            continue
        label = ", ".join(str(value) for value in configuration.values())
        findings.append(
            finding(
                f"{label} is better than the trivial predictor",
                rows,
                [
                    Comparison(metric, configuration, trivial, higher_is_better=higher, name=f"{name} − trivial")
                    for metric, name, higher in TRIVIAL_METRICS
                    if metric in rows.columns
                ],
            )
        )
    return findings


def write_findings(
    findings: list[Finding], out_dir: str | Path, name: str = "findings", title: str = "Findings"
) -> Path:
    """``<name>.md`` (one line per claim: verdict, differences and intervals, the test) and
    ``<name>.csv`` (one row per comparison, with the per-seed differences) in ``out_dir``."""
    out_dir = Path(out_dir)
    path = out_dir / f"{name}.md"
    header = (
        f"# {title}\n\nEach difference is a mean over seeds with its {CONFIDENCE:.0%} interval ({TEST_NAME}: the "
        "configurations of one seed share initial weights and batches); INCONCLUSIVE whenever the interval contains "
        "0 or there is one seed.\n\n"
    )
    atomic_write_text(path, header + "\n".join(f"- {finding}" for finding in findings) + "\n", what="findings")
    atomic_write_text(path.with_suffix(".csv"), findings_table(findings).to_csv(index=False), what="findings")
    return path
