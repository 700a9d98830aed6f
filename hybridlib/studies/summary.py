"""The README's results section, built from the committed ``results/<study>/<preset>/`` files, so
that no number in it is typed by hand:

    python -m hybridlib.studies.summary --preset cpu            # print the Markdown
    python -m hybridlib.studies.summary --preset cpu --readme   # replace the block in README.md

The block sits between ``<!-- results:<preset> -->`` and ``<!-- /results:<preset> -->``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd

from hybridlib.evaluation.report import with_spread
from hybridlib.paths import REPOSITORY_ROOT
from hybridlib.studies.presets import default_out_dir

AUTHORS_COLUMNS = ["kpr_loss_authors", "mr_loss_authors"]  # ours by the authors' formulas, to set beside paper_
SHOWN = {  # study: (key columns, our columns, the paper's columns)
    "01_overfit_8_images": (
        ["configuration"],
        ["kpr_loss", "mr_loss", "pck_0.2", "pa_mpjpe_mm", "joints_outside_limits_pct"],
        [],
    ),
    "02_lsp_ablation": (
        ["critic", "losses"],
        ["kpr_loss", "mr_loss", "pck_0.2", "silhouette_iou", "pa_mpjpe_mm", "joints_outside_limits_pct"]
        + AUTHORS_COLUMNS,
        ["paper_kpr_loss", "paper_mr_loss"],
    ),
    "03_lspet_vs_hmr": (
        ["configuration"],
        ["kpr_loss", "mr_loss", "pck_0.2", "silhouette_iou", "pa_mpjpe_mm", "joints_outside_limits_pct"]
        + AUTHORS_COLUMNS,
        ["paper_kpr_loss", "paper_mr_loss"],
    ),
}
TITLES = {
    "01_overfit_8_images": "8-image overfitting (paper Fig. 4), on the 8 training images",
    "02_lsp_ablation": "Table 1: LSP, with and without critic",
    "03_lspet_vs_hmr": "Table 2: LSP + LSP extended versus the HMR baseline",
}


def _bullets(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("- ")] if path.is_file() else []


def study_summary(study: str, preset: str) -> str | None:
    """Markdown for one study's committed results (None when they are absent): its table (mean ±
    std over seeds), the paper's claims tested and every configuration against the trivial row."""
    folder = default_out_dir(study, preset)
    if not (folder / "table.csv").is_file():
        return None
    table = pd.read_csv(folder / "table.csv")
    keys, ours, paper = SHOWN[study]
    spread = [f"{column}_std" for column in ours if f"{column}_std" in table.columns]
    columns = [column for column in keys + ours + spread + ["seeds"] + paper if column in table.columns]
    shown = with_spread(table[columns])
    provenance = json.loads((folder / "provenance.json").read_text())
    train_minutes = provenance.get("train_seconds_all_configurations", float("nan")) / 60
    seeds = provenance.get("seeds", provenance["parameters"].get("SEEDS"))
    trivial = _bullets(folder / "versus_trivial.md")
    return "\n".join(
        [
            f"**{TITLES[study]}** — `results/{study}/{preset}/` (commit {provenance['git_commit'][:7]}, "
            f"{provenance['device']}, seeds {seeds}, {train_minutes:.0f} min of training):",
            "",
            shown.to_markdown(index=False, floatfmt=".3f"),
            "",
            *_bullets(folder / "findings.md"),
            *(["", "Against the trivial predictor (mean Θ, no image):", "", *trivial] if trivial else []),
        ]
    )


def results_section(preset: str) -> str:
    """The whole block: every study with committed results under ``preset``."""
    parts = [summary for study in SHOWN if (summary := study_summary(study, preset)) is not None]
    return "\n\n".join(parts)


def write_readme(preset: str) -> None:
    """Replace the README block between the preset's markers with :func:`results_section`."""
    readme = REPOSITORY_ROOT / "README.md"
    start, end = f"<!-- results:{preset} -->", f"<!-- /results:{preset} -->"
    text = readme.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} … {end} block: add the two markers where the results go")
    block = f"{start}\n{results_section(preset)}\n{end}"
    readme.write_text(re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hybridlib.studies.summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--readme", action="store_true", help="write the block into README.md instead of printing it")
    args = parser.parse_args(argv)
    if args.readme:
        write_readme(args.preset)
    else:
        print(results_section(args.preset))


if __name__ == "__main__":
    main()
