"""Comparing one study's per-seed results in two precisions."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hybridlib.studies.precision_check import compare_precisions, main, report, run_lsp_ablation_configuration


def _write(folder, configuration_losses, precision, first_seed=0):
    folder.mkdir(parents=True)
    rows = [
        {"configuration": name, "seed": first_seed + seed, "kpr_loss": kpr, "mr_loss": mr}
        for name, losses in configuration_losses.items()
        for seed, (kpr, mr) in enumerate(losses)
    ]
    pd.DataFrame(rows).to_csv(folder / "runs.csv", index=False)
    choice = {"precision": precision, "channels_last": False, "reason": "test"}
    (folder / "provenance.json").write_text(json.dumps({"precision": {"run_seed0": choice}}))
    return folder


def test_a_candidate_mean_inside_the_reference_spread_holds_and_one_outside_does_not(tmp_path, capsys):
    reference = _write(tmp_path / "fp32", {"combined": [(2.0, 0.10), (2.4, 0.12), (2.2, 0.11)]}, "fp32")
    candidate = _write(tmp_path / "bf16", {"combined": [(2.3, 0.20), (2.1, 0.22), (2.2, 0.21)]}, "bf16-mixed")
    table = compare_precisions(reference, candidate).set_index("metric")
    assert table.loc["kpr_loss", "within reference spread"] and not table.loc["mr_loss", "within reference spread"]
    assert table.loc["kpr_loss", "difference of means (%)"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["mr_loss", "reference min"] == 0.10 and table.loc["mr_loss", "reference max"] == 0.12
    main(["compare", "--reference", str(reference), "--candidate", str(candidate), "--out", str(tmp_path / "check.md")])
    text = (tmp_path / "check.md").read_text()
    assert "(fp32)" in text and "(bf16-mixed)" in text and "1 of 2 candidate means lie within" in text
    assert text in capsys.readouterr().out


def test_welchs_interval_of_the_difference_decides_whether_a_difference_is_detected(tmp_path):
    reference = _write(tmp_path / "fp32", {"combined": [(2.0, 0.10), (2.4, 0.11), (2.2, 0.12)]}, "fp32")
    candidate = _write(tmp_path / "bf16", {"combined": [(2.5, 0.30), (2.0, 0.31), (2.3, 0.32)]}, "bf16-mixed")
    table = compare_precisions(reference, candidate).set_index("metric")
    kpr, mr = table.loc["kpr_loss"], table.loc["mr_loss"]
    assert kpr["difference 95% low"] < 0.0 < kpr["difference 95% high"]
    assert kpr["Welch verdict"] == "no difference detected"
    # means 0.11 and 0.31, each with a standard deviation of 0.01: t = 24.5 on 4 degrees of freedom
    assert mr["Welch verdict"] == "differs"
    assert mr["difference 95% low"] == pytest.approx(0.2 - 2.776 * 0.01 * (2 / 3) ** 0.5, abs=1e-3)
    single = _write(tmp_path / "one", {"combined": [(2.1, 0.2)]}, "bf16-mixed")
    assert set(compare_precisions(reference, single)["Welch verdict"]) == {"no interval (one seed a side)"}
    assert "- no paired test: the two sides share fewer than two seeds." in report(
        reference, single, compare_precisions(reference, single)
    )


def test_an_unknown_table_1_configuration_is_refused_with_the_labels():
    with pytest.raises(ValueError, match="no Table-1 configuration 'combined twice'.*'combined with critic'"):
        run_lsp_ablation_configuration("smoke", "fp32", [0], "combined twice")


def test_a_missing_configuration_or_folder_is_named(tmp_path):
    reference = _write(tmp_path / "fp32", {"combined": [(2.0, 0.1)], "KPR only": [(2.5, 0.2)]}, "fp32")
    candidate = _write(tmp_path / "bf16", {"combined": [(2.0, 0.1)]}, "bf16-mixed")
    with pytest.raises(ValueError, match="has no runs of 'KPR only'"):
        compare_precisions(reference, candidate)
    with pytest.raises(FileNotFoundError, match="no runs.csv in .*nowhere"):
        compare_precisions(reference, tmp_path / "nowhere")


def test_the_trivial_row_without_a_checkpoint_is_left_out(tmp_path):
    reference = _write(tmp_path / "fp32", {"combined": [(2.0, 0.1), (2.2, 0.12)], "trivial": [(12.0, 0.4)]}, "fp32")
    candidate = _write(tmp_path / "bf16", {"combined": [(2.1, 0.11), (2.3, 0.1)], "trivial": [(12.0, 0.4)]}, "bf16")
    for folder in (reference, candidate):
        runs = pd.read_csv(folder / "runs.csv")
        runs["checkpoint"] = ["run/checkpoint.pt" if name == "combined" else None for name in runs["configuration"]]
        runs.to_csv(folder / "runs.csv", index=False)
    assert set(compare_precisions(reference, candidate)["configuration"]) == {"combined"}


def test_folders_of_other_seeds_are_pooled_and_the_paired_test_uses_the_seeds_both_sides_ran(tmp_path, capsys):
    reference = [
        _write(tmp_path / "fp32", {"combined": [(2.0, 0.10), (2.4, 0.12), (2.2, 0.11)]}, "fp32"),
        _write(tmp_path / "fp32-more", {"combined": [(2.6, 0.13), (1.8, 0.09)]}, "fp32", first_seed=3),
    ]
    # seed by seed the candidate is the reference + 0.1 (+ 0.01 on seed 4): a paired difference
    # Welch's test cannot see under the spread between seeds
    candidate = [
        _write(tmp_path / "bf16", {"combined": [(2.1, 0.10), (2.5, 0.12), (2.3, 0.11)]}, "bf16-mixed"),
        _write(tmp_path / "bf16-more", {"combined": [(2.71, 0.13)]}, "bf16-mixed", first_seed=3),
    ]
    kpr = compare_precisions(reference, candidate).set_index("metric").loc["kpr_loss"]
    assert kpr["reference seeds"] == 5 and kpr["candidate seeds"] == 4 and kpr["paired seeds"] == 4
    assert kpr["reference min"] == 1.8 and kpr["reference max"] == 2.6
    assert kpr["Welch verdict"] == "no difference detected"
    assert kpr["paired difference"] == pytest.approx(0.1025)
    assert kpr["paired verdict"] == "differs" and 0.0 < kpr["paired 95% low"] < 0.1 < kpr["paired 95% high"]
    assert kpr["paired bound (% of reference mean)"] == pytest.approx(100 * kpr["paired 95% high"] / 2.2)
    out = tmp_path / "check.md"
    main(["compare", "--reference", *map(str, reference), "--candidate", *map(str, candidate), "--out", str(out)])
    text = out.read_text()
    assert "fp32-more" in text and "bf16-more" in text and "1 of 2 paired differences" in text


def test_a_seed_given_twice_on_one_side_is_refused(tmp_path):
    first = _write(tmp_path / "a", {"combined": [(2.0, 0.1), (2.1, 0.1)]}, "fp32")
    again = _write(tmp_path / "b", {"combined": [(2.2, 0.1)]}, "fp32", first_seed=1)
    with pytest.raises(ValueError, match="'combined' seed 1 is in more than one of"):
        compare_precisions([first, again], first)
