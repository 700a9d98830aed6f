"""Same science in another precision: one study's per-seed results (``runs.csv``) run in two
precisions, compared configuration by configuration.

    python -m hybridlib.studies.precision_check compare --reference DIR [DIR ...]
        --candidate DIR [DIR ...] [--out FILE.md]
    python -m hybridlib.studies.precision_check lsp-ablation [--preset cpu] [--configuration LABEL] [--seeds 0 1 2]

``compare``: each side is one or more results folders of the same study (e.g. seeds 0–2 and
seeds 3–5, run with different ``OUT_DIR``), their runs pooled. For each trained configuration
and metric (default: the validation losses L_kpr and L_mr): the reference's seeds (min, mean,
max), the candidate's mean, their relative difference, whether the candidate's mean lies within
the reference seeds' [min, max], Welch's t-test of the two means, and — over the seeds both
sides ran — the **paired t-test** (:mod:`hybridlib.evaluation.verdicts`): a seed's runs in
either precision start from the same weights and see the same batches, so the per-seed
difference removes what the seed shares. Each test prints the difference (candidate −
reference) with its 95 % interval; "no difference detected" when the interval contains 0: at a
few seeds that is consistency, not proof of equality; the interval's bounds are the size of a
difference the seeds could have missed.

``lsp-ablation``: trains one Table-1 configuration over the given seeds in fp32 and in
bf16-mixed (results/02_lsp_ablation/<preset>-precision/<precision>/runs.csv) and compares them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
from scipy import stats

from hybridlib.atomic_write import atomic_write_text
from hybridlib.evaluation.report import write_table
from hybridlib.evaluation.verdicts import Comparison, paired_difference
from hybridlib.paths import results_root, shown
from hybridlib.studies.presets import resolve_settings
from hybridlib.studies.runner import ensure_data, over_seeds, run_study
from hybridlib.studies.studies import table_1_specs

METRICS = ("kpr_loss", "mr_loss")
CONFIDENCE = 0.95


def _runs(folders: list[Path]) -> pd.DataFrame:
    """The pooled runs.csv of ``folders``; a configuration's seed in two of them is refused."""
    tables = []
    for folder in folders:
        path = Path(folder) / "runs.csv"
        if not path.is_file():
            raise FileNotFoundError(f"no runs.csv in {folder}: run the study with OUT_DIR={folder} first")
        tables.append(pd.read_csv(path).assign(folder=str(folder)))
    runs = pd.concat(tables, ignore_index=True)
    repeated = runs[runs.duplicated(["configuration", "seed"], keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise ValueError(
            f"{first['configuration']!r} seed {first['seed']} is in more than one of "
            f"{sorted(set(repeated['folder']))}: give each seed once per side"
        )
    return runs


def _trained(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of trained configurations: a row without a checkpoint (the trivial predictor,
    no network) is the same in every precision."""
    return runs[runs["checkpoint"].notna()] if "checkpoint" in runs else runs


def _precisions(folders: list[Path]) -> str:
    """The precisions the folders' runs trained in, from their provenance.json ("unknown" without one)."""
    names = set()
    for folder in folders:
        path = Path(folder) / "provenance.json"
        if path.is_file():
            chosen = json.loads(path.read_text()).get("precision") or {}
            names |= {choice["precision"] for choice in chosen.values() if choice}
    return ", ".join(sorted(names)) or "unknown"


def _folders(folders: Path | list[Path]) -> list[Path]:
    return [Path(folders)] if isinstance(folders, (str, Path)) else [Path(folder) for folder in folders]


def _named(folders: Path | list[Path]) -> str:
    return ", ".join(str(folder) for folder in _folders(folders))


def welch_interval(reference: pd.Series, candidate: pd.Series) -> tuple[float, float]:
    """95 % interval of mean(candidate) − mean(reference) by Welch's t-test; (nan, nan) with
    fewer than two values on a side or no spread on either."""
    if len(reference) < 2 or len(candidate) < 2 or reference.std() == 0 and candidate.std() == 0:
        return math.nan, math.nan
    interval = stats.ttest_ind(candidate, reference, equal_var=False).confidence_interval(CONFIDENCE)
    return float(interval.low), float(interval.high)


def _detected(low: float, high: float, missing: str) -> str:
    if math.isnan(low):
        return missing
    return "no difference detected" if low <= 0.0 <= high else "differs"


def paired_interval(runs: pd.DataFrame, configuration: str, metric: str) -> tuple[int, float, float, float]:
    """Over the seeds both sides ran (``runs`` has a column ``side``: "reference" / "candidate"):
    their number, the mean per-seed difference candidate − reference and its 95 % interval
    (NaN without two shared seeds)."""
    sides = runs[runs["configuration"] == configuration]
    shared = set(sides.loc[sides["side"] == "reference", "seed"]) & set(sides.loc[sides["side"] == "candidate", "seed"])
    if not shared:
        return 0, math.nan, math.nan, math.nan
    result = paired_difference(
        sides[sides["seed"].isin(shared)],
        Comparison(metric, better={"side": "candidate"}, other={"side": "reference"}),
    )
    return len(result.seeds), result.mean, result.low, result.high


def compare_precisions(
    reference: Path | list[Path], candidate: Path | list[Path], metrics: tuple[str, ...] = METRICS
) -> pd.DataFrame:
    """One row per configuration and metric (see the module docstring); each side is a results
    folder or a list of them (their runs pooled)."""
    reference_runs, candidate_runs = _trained(_runs(_folders(reference))), _trained(_runs(_folders(candidate)))
    both = pd.concat([reference_runs.assign(side="reference"), candidate_runs.assign(side="candidate")])
    rows = []
    for configuration in reference_runs["configuration"].unique():
        ours = candidate_runs[candidate_runs["configuration"] == configuration]
        if ours.empty:
            raise ValueError(f"{_named(candidate)} has no runs of {configuration!r}, which {_named(reference)} has")
        theirs = reference_runs[reference_runs["configuration"] == configuration]
        for metric in metrics:
            low, mean, high = theirs[metric].min(), theirs[metric].mean(), theirs[metric].max()
            candidate_mean = ours[metric].mean()
            interval_low, interval_high = welch_interval(theirs[metric], ours[metric])
            paired_seeds, paired_mean, paired_low, paired_high = paired_interval(both, configuration, metric)
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
                    "difference 95% low": interval_low,
                    "difference 95% high": interval_high,
                    "Welch verdict": _detected(interval_low, interval_high, "no interval (one seed a side)"),
                    "paired seeds": paired_seeds,
                    "paired difference": paired_mean,
                    "paired 95% low": paired_low,
                    "paired 95% high": paired_high,
                    "paired verdict": _detected(paired_low, paired_high, "no interval (under two shared seeds)"),
                    "paired bound (% of reference mean)": 100.0 * max(abs(paired_low), abs(paired_high)) / abs(mean),
                }
            )
    return pd.DataFrame(rows)


def report(reference: Path | list[Path], candidate: Path | list[Path], table: pd.DataFrame) -> str:
    """Markdown: what was compared, the table, and the counts of each criterion."""
    references, candidates = _folders(reference), _folders(candidate)
    within = int(table["within reference spread"].sum())
    welch = int((table["Welch verdict"] == "no difference detected").sum())
    paired = int((table["paired verdict"] == "no difference detected").sum())
    largest = table["difference of means (%)"].abs().max()
    paired_bound = table["paired bound (% of reference mean)"].max()
    return (
        "# One study run twice, compared\n\n"
        f"reference: {', '.join(f'`{shown(folder)}`' for folder in references)} ({_precisions(references)}); "
        f"candidate: {', '.join(f'`{shown(folder)}`' for folder in candidates)} ({_precisions(candidates)}).\n\n"
        f"{table.round(4).to_markdown(index=False)}\n\n"
        f"- {within} of {len(table)} candidate means lie within the reference seeds' [min, max].\n"
        f"- {welch} of {len(table)} differences have a {CONFIDENCE:.0%} interval (Welch's t-test over seeds) "
        "that contains 0: no difference detected at these seed counts; the interval's width is the size of a "
        "difference they could miss.\n"
        + (
            f"- {paired} of {len(table)} paired differences (paired t-test over the seeds both sides ran) have a "
            f"{CONFIDENCE:.0%} interval that contains 0; the largest interval bound is {paired_bound:.1f} % of its "
            "reference mean: a larger difference would have been detected.\n"
            if not math.isnan(paired_bound)
            else "- no paired test: the two sides share fewer than two seeds.\n"
        )
        + f"- largest difference of means: {largest:.2f} %.\n"
    )


def run_lsp_ablation_configuration(
    preset: str, precision: str, seeds: list[int], configuration: str, progress: bool = True
) -> Path:
    """Train one Table-1 configuration (its label, e.g. "combined with critic") over ``seeds``
    in ``precision``; write runs.csv and provenance.json into
    results/02_lsp_ablation/<preset>-precision/<precision>/ and return that folder."""
    labels = [spec.label for _, _, spec in table_1_specs()]
    if configuration not in labels:
        raise ValueError(f"no Table-1 configuration {configuration!r}; the configurations are {labels}")
    out_dir = results_root() / "02_lsp_ablation" / f"{preset}-precision" / precision
    settings = resolve_settings(
        "02_lsp_ablation", PRESET=preset, PRECISION=precision, SEEDS=list(seeds), OUT_DIR=str(out_dir)
    )
    (spec,) = [spec for _, _, spec in table_1_specs() if spec.label == configuration]
    rows = run_study(settings, over_seeds([spec], settings.seeds), ensure_data(settings, progress), progress)
    write_table(rows, out_dir, "runs")
    return out_dir


def _compare_and_write(reference: list[Path], candidate: list[Path], out: Path | None) -> None:
    text = report(reference, candidate, compare_precisions(reference, candidate))
    print(text)
    if out is not None:
        atomic_write_text(out, text, what="precision check")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="compare the runs.csv of two precisions' results folders")
    compare.add_argument(
        "--reference", type=Path, nargs="+", required=True, help="results folders of the reference precision (fp32)"
    )
    compare.add_argument(
        "--candidate", type=Path, nargs="+", required=True, help="results folders of the candidate (bf16-mixed)"
    )
    compare.add_argument("--out", type=Path, default=None, help="also write the report to this markdown file")
    ablation = commands.add_parser("lsp-ablation", help="train one Table-1 configuration in fp32 and bf16-mixed")
    ablation.add_argument("--preset", default="cpu")
    ablation.add_argument("--configuration", default="combined with critic", help="a Table-1 row's label")
    ablation.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    if args.command == "compare":
        _compare_and_write(args.reference, args.candidate, args.out)
        return
    folders = {
        precision: run_lsp_ablation_configuration(args.preset, precision, args.seeds, args.configuration)
        for precision in ("fp32", "bf16-mixed")
    }
    out = folders["fp32"].parent / "precision_check.md"
    _compare_and_write([folders["fp32"]], [folders["bf16-mixed"]], out)


if __name__ == "__main__":
    main()
