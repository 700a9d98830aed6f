"""Verdicts: paired differences over seeds with Student's t interval, read as HOLDS / DOES NOT
HOLD / INCONCLUSIVE, and claims of several comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hybridlib.evaluation.verdicts import (
    Comparison,
    Verdict,
    combined_verdict,
    finding,
    findings_table,
    paired_difference,
)

A, B = {"configuration": "A"}, {"configuration": "B"}


def _rows(a: list[float], b: list[float], seeds: list[int] | None = None) -> pd.DataFrame:
    seeds = seeds if seeds is not None else list(range(len(a)))
    return pd.DataFrame(
        {
            "configuration": ["A"] * len(a) + ["B"] * len(b),
            "seed": seeds[: len(a)] + seeds[: len(b)],
            "loss": a + b,
        }
    )


def test_the_interval_is_students_t_over_the_per_seed_differences():
    a, b = [1.0, 2.5, 4.1], [1.5, 3.2, 4.4]
    result = paired_difference(_rows(a, b), Comparison("loss", A, B))
    differences = np.subtract(a, b)
    low, high = stats.t.interval(0.95, 2, loc=differences.mean(), scale=stats.sem(differences))
    assert result.seeds == (0, 1, 2) and result.differences == pytest.approx(tuple(differences))
    assert (result.mean, result.low, result.high) == pytest.approx((differences.mean(), low, high))
    assert result.reference == pytest.approx(np.mean(b))


def test_pairing_by_seed_removes_what_a_seed_shares():
    # the seeds differ by far more than the configurations do: paired, A is clearly lower
    a, b = [1.0, 11.0, 21.0], [1.2, 11.3, 21.25]
    assert paired_difference(_rows(a, b), Comparison("loss", A, B)).verdict is Verdict.HOLDS
    assert stats.ttest_ind(a, b).pvalue > 0.9  # unpaired, the same numbers decide nothing


def test_the_verdict_follows_where_the_interval_lies():
    lower, higher, mixed = [1.0, 2.0, 3.0], [1.5, 2.4, 3.6], [1.6, 1.7, 3.1]
    assert paired_difference(_rows(lower, higher), Comparison("loss", A, B)).verdict is Verdict.HOLDS
    assert paired_difference(_rows(higher, lower), Comparison("loss", A, B)).verdict is Verdict.DOES_NOT_HOLD
    inconclusive = paired_difference(_rows(lower, mixed), Comparison("loss", A, B))
    assert inconclusive.low < 0 < inconclusive.high and inconclusive.verdict is Verdict.INCONCLUSIVE
    # higher is better (PCK): A above B holds
    assert paired_difference(_rows(higher, lower), Comparison("loss", A, B, higher_is_better=True)).verdict is (
        Verdict.HOLDS
    )
    # factor: 2 × A < B?  A = 1, 2, 3 and B = 2.5, 4.6, 6.4: 2A − B < 0 at every seed
    doubled = paired_difference(_rows(lower, [2.5, 4.6, 6.4]), Comparison("loss", A, B, factor=2.0))
    assert doubled.differences == pytest.approx((-0.5, -0.6, -0.4)) and doubled.verdict is Verdict.HOLDS


def test_one_seed_or_an_unmeasured_metric_is_inconclusive():
    single = paired_difference(_rows([1.0], [5.0]), Comparison("loss", A, B))
    assert math.isnan(single.low) and single.verdict is Verdict.INCONCLUSIVE
    assert "no interval from one seed" in str(single)
    unmeasured = paired_difference(_rows([math.nan] * 3, [1.0, 2.0, 3.0]), Comparison("loss", A, B, name="PA"))
    assert unmeasured.verdict is Verdict.INCONCLUSIVE and str(unmeasured) == "PA: not measured"


def test_configurations_that_share_no_seed_cannot_be_paired():
    rows = pd.DataFrame({"configuration": ["A", "B"], "seed": [0, 1], "loss": [1.0, 2.0]})
    with pytest.raises(KeyError, match="share no seed"):
        paired_difference(rows, Comparison("loss", A, B))
    with pytest.raises(KeyError, match="no rows with {'configuration': 'C'}"):
        paired_difference(rows, Comparison("loss", {"configuration": "C"}, B))


def test_a_claim_holds_when_all_its_comparisons_hold_and_fails_when_any_fails():
    holds, fails, undecided = Verdict.HOLDS, Verdict.DOES_NOT_HOLD, Verdict.INCONCLUSIVE
    assert combined_verdict([holds, holds]) is holds and combined_verdict([holds, undecided]) is undecided
    assert combined_verdict([undecided, fails]) is fails and combined_verdict([]) is undecided
    rows = _rows([1.0, 2.0, 3.0], [1.5, 2.4, 3.6])
    rows["other"] = rows["loss"][::-1].to_numpy()  # A higher than B on this one, at every seed
    claim = finding("A beats B on both", rows, [Comparison("loss", A, B), Comparison("other", A, B)])
    assert claim.verdict is fails and not claim.holds
    assert str(claim).startswith(
        "DOES NOT HOLD: A beats B on both (loss: -0.5 (-20.0%), 95% CI [-0.748, -0.252]; other: +0.5 (+25.0%)"
    )
    assert str(claim).endswith("paired t-test over seeds, 3 seeds)")
    table = findings_table([claim])
    assert list(table["comparison_verdict"]) == ["HOLDS", "DOES NOT HOLD"] and set(table["verdict"]) == {fails.value}
    assert table["per_seed_differences"].iloc[0] == "-0.5 -0.4 -0.6"
