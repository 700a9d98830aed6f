"""Same science in another precision: one study's per-seed results (``runs.csv``) run in two
precisions, compared configuration by configuration.

    python -m hybridlib.studies.precision_check REFERENCE_DIR CANDIDATE_DIR [--out FILE.md]

For each configuration and metric (default: the validation losses L_kpr and L_mr): the
reference's seeds (min, mean, max), the candidate's mean over its seeds, their relative
difference, and whether the candidate's mean lies within the reference seeds' spread
[min, max] — the check of the 8-image study under bf16-mixed against fp32.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hybridlib.atomic_write import atomic_write_text

METRICS = ("kpr_loss", "mr_loss")


def _runs(folder: Path) -> pd.DataFrame:
    path = Path(folder) / "runs.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no runs.csv in {folder}: run the study with OUT_DIR={folder} first")
    return pd.read_csv(path)


def _precisions(folder: Path) -> str:
    """The precisions the folder's runs trained in, from its provenance.json ("unknown" without one)."""
    path = Path(folder) / "provenance.json"
    if not path.is_file():
        return "unknown"
    chosen = json.loads(path.read_text()).get("precision") or {}
    names = sorted({choice["precision"] for choice in chosen.values() if choice})
    return ", ".join(names) or "unknown"


def compare_precisions(reference: Path, candidate: Path, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """One row per configuration and metric (see the module docstring)."""
    reference_runs, candidate_runs = _runs(reference), _runs(candidate)
    rows = []
    for configuration in reference_runs["configuration"].unique():
        ours = candidate_runs[candidate_runs["configuration"] == configuration]
        if ours.empty:
            raise ValueError(f"{candidate} has no runs of {configuration!r}, which {reference} has")
        theirs = reference_runs[reference_runs["configuration"] == configuration]
        for metric in metrics:
            low, mean, high = theirs[metric].min(), theirs[metric].mean(), theirs[metric].max()
            candidate_mean = ours[metric].mean()
            rows.append(
                {
                    "configuration": configuration,
                    "metric": metric,
                    "reference seeds": len(theirs),
                    "reference min": low,
                    "reference mean": mean,
                    "reference max": high,
                    "candidate seeds": len(ours),
                    "candidate mean": candidate_mean,
                    "difference of means (%)": 100.0 * (candidate_mean / mean - 1.0),
                    "within reference spread": bool(low <= candidate_mean <= high),
                }
            )
    return pd.DataFrame(rows)


def report(reference: Path, candidate: Path, table: pd.DataFrame) -> str:
    """Markdown: what was compared, the table, and how many rows lie within the spread."""
    within = int(table["within reference spread"].sum())
    return (
        f"# Precision check\n\nreference: `{reference}` ({_precisions(reference)}); "
        f"candidate: `{candidate}` ({_precisions(candidate)}).\n\n"
        f"{table.round(4).to_markdown(index=False)}\n\n"
        f"{within} of {len(table)} candidate means lie within the reference seeds' [min, max].\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path, help="results folder of the reference precision (fp32)")
    parser.add_argument("candidate", type=Path, help="results folder of the candidate precision (bf16-mixed)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this markdown file")
    args = parser.parse_args(argv)
    text = report(args.reference, args.candidate, compare_precisions(args.reference, args.candidate))
    print(text)
    if args.out is not None:
        atomic_write_text(args.out, text, what="precision check")


if __name__ == "__main__":
    main()
