"""Verdicts on the paper's claims that carry their uncertainty.

A claim compares configurations on a metric ("combined has a lower KPR loss than KPR only").
Each comparison is a **paired test over seeds**: for every seed s both configurations were
trained from the same initial weights and saw the same batches, so the per-seed difference

    d_s = factor × metric(better, s) − metric(other, s)

removes what the seed shares; its mean over seeds, with Student's t 95 % interval (n − 1
degrees of freedom), decides the comparison: HOLDS when the whole interval lies on the side
the claim predicts (below 0 for losses, above 0 for PCK), DOES NOT HOLD when it lies on the
other side, INCONCLUSIVE when it contains 0 — and whenever there is one seed only (no
estimate of the training noise) or the metric was not measured (NaN). A claim of
several comparisons HOLDS when all hold and DOES NOT HOLD when any one does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
TEST_NAME = "paired t-test over seeds"


class Verdict(Enum):
    HOLDS = "HOLDS"
    DOES_NOT_HOLD = "DOES NOT HOLD"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Comparison:
    """The claim that ``better`` beats ``other`` on ``metric``: ``factor × metric(better) <
    metric(other)`` — or ``>`` with ``higher_is_better`` (PCK-like metrics). Configurations are
    selected by ``{key column: value}`` in a table of per-seed rows (one per configuration and
    seed); the difference shown is ``factor × metric(better) − metric(other)``."""

    metric: str
    better: dict[str, str]
    other: dict[str, str]
    factor: float = 1.0
    higher_is_better: bool = False
    name: str = ""  # how the comparison is printed; default: the metric


@dataclass(frozen=True)
class ComparisonResult:
    """A comparison measured: the per-seed differences, their mean and 95 % interval (NaN when
    there is no interval), the other side's mean (for a relative size) and the verdict."""

    comparison: Comparison
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    low: float
    high: float
    reference: float
    verdict: Verdict

    def __str__(self) -> str:
        name = self.comparison.name or self.comparison.metric
        if not self.differences or math.isnan(self.mean):
            return f"{name}: not measured"
        relative = f" ({self.mean / abs(self.reference):+.1%})" if self.reference else ""
        interval = f"[{self.low:+.3g}, {self.high:+.3g}]" if not math.isnan(self.low) else "no interval from one seed"
        return f"{name}: {self.mean:+.3g}{relative}, {CONFIDENCE:.0%} CI {interval}"


def _values(rows: pd.DataFrame, metric: str, where: dict[str, str]) -> pd.Series:
    """``metric`` per seed of the one configuration ``where`` selects."""
    selected = rows
    for column, value in where.items():
        selected = selected[selected[column] == value]
    if selected.empty:
        raise KeyError(f"no rows with {where} in the per-seed table (columns {list(rows.columns)})")
    if selected["seed"].duplicated().any():
        raise KeyError(f"{where} selects several rows per seed: add key columns")
    return selected.set_index("seed")[metric].astype(float)


def paired_difference(rows: pd.DataFrame, comparison: Comparison) -> ComparisonResult:
    """Measure one comparison on per-seed rows (columns ``seed``, the key columns, the metric)."""
    better = _values(rows, comparison.metric, comparison.better)
    other = _values(rows, comparison.metric, comparison.other)
    seeds = sorted(set(better.index) & set(other.index))
    if not seeds:
        raise KeyError(f"{comparison.better} and {comparison.other} share no seed: they cannot be paired")
    differences = comparison.factor * better[seeds].to_numpy() - other[seeds].to_numpy()
    mean = float(np.mean(differences))
    low = high = math.nan
    if len(seeds) > 1 and np.isfinite(differences).all():
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(seeds) - 1) * stats.sem(differences))
        low, high = mean - half, mean + half
    claimed_side = 1.0 if comparison.higher_is_better else -1.0  # the sign the claim predicts
    if math.isnan(low) or low <= 0 <= high:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.HOLDS if np.sign(mean) == claimed_side else Verdict.DOES_NOT_HOLD
    return ComparisonResult(
        comparison,
        tuple(int(seed) for seed in seeds),
        tuple(float(value) for value in differences),
        mean,
        low,
        high,
        float(other[seeds].mean()),
        verdict,
    )


def combined_verdict(verdicts: list[Verdict]) -> Verdict:
    """All hold → HOLDS; any does not → DOES NOT HOLD; otherwise INCONCLUSIVE."""
    if verdicts and all(verdict is Verdict.HOLDS for verdict in verdicts):
        return Verdict.HOLDS
    if any(verdict is Verdict.DOES_NOT_HOLD for verdict in verdicts):
        return Verdict.DOES_NOT_HOLD
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class Finding:
    """A claim of the paper, its comparisons as measured, and the verdict they give."""

    claim: str
    results: tuple[ComparisonResult, ...]

    @property
    def verdict(self) -> Verdict:
        return combined_verdict([result.verdict for result in self.results])

    @property
    def holds(self) -> bool:
        return self.verdict is Verdict.HOLDS

    def __str__(self) -> str:
        seeds = len(self.results[0].seeds) if self.results else 0
        evidence = "; ".join(str(result) for result in self.results)
        return f"{self.verdict.value}: {self.claim} ({evidence}; {TEST_NAME}, {seeds} seed{'s' * (seeds != 1)})"


def finding(claim: str, rows: pd.DataFrame, comparisons: list[Comparison]) -> Finding:
    """Measure every comparison of a claim on the per-seed rows."""
    return Finding(claim, tuple(paired_difference(rows, comparison) for comparison in comparisons))


def findings_table(findings: list[Finding]) -> pd.DataFrame:
    """One row per comparison: claim, comparison, seeds, mean difference, interval, verdicts."""
    return pd.DataFrame(
        [
            {
                "claim": item.claim,
                "verdict": item.verdict.value,
                "comparison": result.comparison.name or result.comparison.metric,
                "seeds": len(result.seeds),
                "difference": result.mean,
                "ci_low": result.low,
                "ci_high": result.high,
                "comparison_verdict": result.verdict.value,
                "per_seed_differences": " ".join(f"{value:.4g}" for value in result.differences),
            }
            for item in findings
            for result in item.results
        ]
    )
