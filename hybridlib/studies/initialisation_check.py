"""Which starting point lets the cpu preset's networks learn: the held-out curves of one Table-1
configuration fine-tuned from each start in :data:`STARTS` — the shared encoder frozen with a fresh
regressor trained on it (what the cpu preset does), the shared encoder trained end to end with a
fresh regressor (the paper's regime, the cpu preset's before), and the whole pretrained network
(the encoder and the regressor it was pretrained with, trained end to end).

    python -m hybridlib.studies.initialisation_check [--configuration "combined without critic"] [--seed 0]
                                                     [--starts frozen end-to-end whole-network]

Every run is the study's run of that configuration (its data, losses, learning rate and seed),
measured on the LSP test half at step 0 and every ``every_steps`` steps; the whole network is read
from the pretraining run's checkpoint (``runs/pretrain_encoder/``, left by ``make
pretrained-encoder``). The curves, with the trivial row and the studies issue's bars (PCK@0.2 ≥ 60 %,
PA-MPJPE ≥ 20 % below the trivial row), go to ``results/initialisation_check/<preset>/``; each row
names the machine and precision it was measured in, and the rows of starts not measured by this
call are kept from the file as it was (so one start can be re-measured alone).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: figures go to files, whatever the backend

from hybridlib.atomic_write import atomic_write_text
from hybridlib.evaluation.evaluate import EvaluationConfig, evaluate_checkpoint
from hybridlib.evaluation.verdicts import Comparison, finding
from hybridlib.machine import machine_name
from hybridlib.paths import results_root, runs_root
from hybridlib.studies.presets import ParameterError, resolve_settings
from hybridlib.studies.pretrain_encoder import PretrainRecipe
from hybridlib.studies.runner import ensure_data, train_config, trivial_rows
from hybridlib.studies.studies import table_1_specs
from hybridlib.training.batches import training_set
from hybridlib.training.checkpoint import load_checkpoint
from hybridlib.training.config import TrainConfig
from hybridlib.training.loop import train, write_initial_checkpoint
from hybridlib.training.loss_log import read_loss_log, training_seconds


@dataclass(frozen=True)
class Start:
    """One starting point: its label in the curves, its ``--starts`` key, whether the encoder is
    frozen during the fine-tuning, and whether the regressor comes from the pretraining run."""

    label: str
    key: str
    freeze_encoder: bool
    whole_network: bool = False


STARTS = (
    Start("shared encoder frozen, fresh regressor", "frozen", freeze_encoder=True),
    Start("shared encoder, fresh regressor", "end-to-end", freeze_encoder=False),
    Start("whole pretrained network", "whole-network", freeze_encoder=False, whole_network=True),
)
PCK_BAR = 60.0  # the studies issue's bars
PA_MPJPE_FRACTION_BAR = 0.8


@dataclass(frozen=True)
class InitialisationCheck:
    """The configuration (a Table-1 row label) and seed fine-tuned, the preset, how often and on
    how many test images (None: all, as the tables) the runs are measured."""

    configuration: str = "combined without critic"
    seed: int = 0
    preset: str = "cpu"
    every_steps: int = 125
    evaluation_images: int | None = None
    starts: tuple[str, ...] = tuple(start.key for start in STARTS)


def fine_tuning_curves(
    check: InitialisationCheck = InitialisationCheck(), pretraining_checkpoint: Path | None = None
) -> pd.DataFrame:
    """Train the check's configuration from each of its starts (:data:`STARTS`), measuring it at
    step 0 and every ``every_steps`` steps; returns one row per start and measurement (PCK@0.2,
    PA-MPJPE, KPR, …, the machine and precision) and writes the curves — with the kept rows of
    the other starts — the trivial row and their figure. Interrupted, it resumes (the runs are in
    ``runs/initialisation_check/``; finished measurements are not redone)."""
    starts = [start for start in STARTS if start.key in check.starts]
    unknown = sorted(set(check.starts) - {start.key for start in STARTS})
    if unknown or not starts:
        raise ParameterError(f"starts must be some of {[start.key for start in STARTS]}, got {list(check.starts)}")
    if pretraining_checkpoint is None:
        pretraining_checkpoint = Path(PretrainRecipe().train_config(Path()).out_dir) / "checkpoint.pt"
    if any(start.whole_network for start in starts) and not pretraining_checkpoint.is_file():
        raise FileNotFoundError(
            f"the pretraining run's checkpoint {pretraining_checkpoint} is missing: run make pretrained-encoder "
            "(it leaves the run in runs/pretrain_encoder/), pass the checkpoint, or leave out --starts whole-network"
        )
    settings = resolve_settings("02_lsp_ablation", PRESET=check.preset)
    specs = {spec.label: spec for _, _, spec in table_1_specs()}
    if check.configuration not in specs:
        raise ParameterError(f"configuration must be one of {sorted(specs)}, got {check.configuration!r}")
    if specs[check.configuration].w_mr_ramp_fraction:
        raise ParameterError(
            f"{check.configuration!r} ramps w_mr over the run: a run stopped to be measured ramps otherwise"
        )
    data_dir = ensure_data(settings, progress=False)
    study_run = train_config(settings, replace(specs[check.configuration], seed=check.seed), data_dir, progress=False)
    evaluation = EvaluationConfig(max_images=check.evaluation_images, progress=False)
    out_dir = results_root() / "initialisation_check" / check.preset
    key = {"configuration": check.configuration, "seed": check.seed}
    rows = []
    if (out_dir / "curves.csv").is_file():  # other starts, seeds and configurations, as measured before
        kept = _with_key(pd.read_csv(out_dir / "curves.csv"))
        remeasured = kept["start"].isin([start.label for start in starts])
        remeasured &= (kept["configuration"] == check.configuration) & (kept["seed"] == check.seed)
        rows = kept[~remeasured].to_dict("records")
    for start in starts:
        run_dir = runs_root() / "initialisation_check" / check.preset / start.key / Path(study_run.out_dir).name
        config = replace(study_run, out_dir=str(run_dir), freeze_encoder=start.freeze_encoder)
        measured_file = run_dir / "curve.csv"  # kept as it grows: an interrupted check resumes
        measured = pd.read_csv(measured_file).to_dict("records") if measured_file.is_file() else []
        if not config.checkpoint_path.is_file():
            whole = load_checkpoint(pretraining_checkpoint)["model"] if start.whole_network else None
            write_initial_checkpoint(config, whole)
        precision = load_checkpoint(config.checkpoint_path)["precision"]["precision"]
        stops = _stops(config, check.every_steps)
        for steps in stops:
            if any(row["steps"] == steps for row in measured):
                continue
            if steps:
                train(replace(config, max_steps=steps))
            metrics = evaluate_checkpoint(config.checkpoint_path, config=evaluation).iloc[0]
            seconds = training_seconds(read_loss_log(config.log_path)) if steps else 0.0
            measured.append(
                {"start": start.label, "steps": steps, "images_seen": steps * config.batch_size,
                 **{name: float(metrics[name]) for name in MEASURED}, "training_seconds": round(seconds, 1),
                 "precision": precision, "machine": machine_name()}
            )  # fmt: skip
            atomic_write_text(measured_file, pd.DataFrame(measured).to_csv(index=False), what="fine-tuning curve")
            print(
                f"{start.label}, step {steps}/{stops[-1]}: PCK@0.2 {metrics['pck_0.2']:.1f} %, "
                f"PA-MPJPE {metrics['pa_mpjpe_mm']:.1f} mm",
                flush=True,
            )
        rows.extend({**key, **row} for row in measured)
    order = {start.label: index for index, start in enumerate(STARTS)}
    curves = pd.DataFrame(rows).sort_values(
        ["configuration", "seed", "start"],
        key=lambda column: column.map(order) if column.name == "start" else column,
        kind="stable",
        ignore_index=True,
    )
    trivial = trivial_rows(settings, data_dir, "trivial: mean Θ, no image", max_images=check.evaluation_images)
    trivial = trivial.iloc[[0]].drop(columns="seed")
    atomic_write_text(out_dir / "curves.csv", curves.to_csv(index=False), what="fine-tuning curves")
    atomic_write_text(out_dir / "trivial.csv", trivial.to_csv(index=False), what="trivial row")
    this_configuration = curves[curves["configuration"] == check.configuration]
    _plot(this_configuration, trivial.iloc[0], check, out_dir / "curves.png")
    atomic_write_text(
        out_dir / "frozen_vs_end_to_end.md", frozen_versus_end_to_end(this_configuration), what="comparison"
    )
    return curves


def _with_key(curves: pd.DataFrame) -> pd.DataFrame:
    """Curves with their configuration and seed columns: files written before the check took
    other seeds hold the rows of its defaults (the only ones it was run with)."""
    for position, (column, default) in enumerate(
        (("configuration", InitialisationCheck.configuration), ("seed", InitialisationCheck.seed))
    ):
        if column not in curves.columns:
            curves.insert(position, column, default)
    return curves


def frozen_versus_end_to_end(curves: pd.DataFrame) -> str:
    """Markdown: the frozen start against the end-to-end start at the last measured step, over
    the seeds both were measured with (one configuration's curves): paired differences of
    PCK@0.2, PA-MPJPE and L_kpr with their 95 % intervals, and the training time of each."""
    frozen, end_to_end = STARTS[0].label, STARTS[1].label
    last = curves[curves["steps"] == curves["steps"].max()]
    last = last[last["start"].isin([frozen, end_to_end])]
    lines = [f"# {frozen} vs {end_to_end}: {', '.join(sorted(set(curves['configuration'])))}", ""]
    if set(last["start"]) != {frozen, end_to_end}:
        return "\n".join([*lines, "Not both starts measured at the last step: nothing to compare.", ""])
    comparisons = [
        Comparison("pck_0.2", {"start": frozen}, {"start": end_to_end}, higher_is_better=True, name="PCK@0.2 (%)"),
        Comparison("pa_mpjpe_mm", {"start": frozen}, {"start": end_to_end}, name="PA-MPJPE (mm)"),
        Comparison("kpr_loss", {"start": frozen}, {"start": end_to_end}, name="L_kpr"),
    ]
    result = finding(f"after {int(last['steps'].max())} steps, the frozen encoder does better", last, comparisons)
    seconds = last.groupby("start")["training_seconds"].mean()
    lines += [
        f"- {result}",
        f"- training seconds, mean over seeds: frozen {seconds[frozen]:.0f}, end to end {seconds[end_to_end]:.0f} "
        f"({seconds[end_to_end] / seconds[frozen]:.2f}x); machines: {', '.join(sorted(set(last['machine'].dropna())))}",
        "",
    ]
    return "\n".join(lines)


MEASURED = ("pck_0.2", "pa_mpjpe_mm", "mpjpe_mm", "kpr_loss", "mr_loss", "joints_outside_limits_pct")


def _stops(config: TrainConfig, every_steps: int) -> list[int]:
    """Step 0, every ``every_steps`` steps and the run's last step."""
    total = config.epochs * (len(training_set(config)) // config.batch_size)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    return sorted({*range(0, total, every_steps), total})


def _plot(curves: pd.DataFrame, trivial: pd.Series, check: InitialisationCheck, path: Path) -> None:
    """PCK@0.2 (%) and PA-MPJPE (mm) against the fine-tuning steps, one line per start, with the
    trivial row and the bars."""
    figure = Figure(figsize=(9, 4.4))
    left, right = figure.subplots(1, 2)
    bars = {"pck_0.2": PCK_BAR, "pa_mpjpe_mm": PA_MPJPE_FRACTION_BAR * trivial["pa_mpjpe_mm"]}
    colours = {start.label: f"C{index}" for index, start in enumerate(STARTS)}
    for axis, column, label in ((left, "pck_0.2", "PCK@0.2 (%)"), (right, "pa_mpjpe_mm", "PA-MPJPE (mm)")):
        for (start, seed), curve in curves.groupby(["start", "seed"], sort=False):
            style = ("-", "--", ":", "-.")[int(seed) % 4]
            axis.plot(
                curve["steps"],
                curve[column],
                style,
                marker="o",
                color=colours.get(start),
                label=f"{start}, seed {seed}",
            )
        axis.axhline(trivial[column], color="grey", linestyle=":", label="trivial: mean Θ, no image")
        axis.axhline(bars[column], color="red", linestyle="--", label="the issue's bar")
        axis.set_xlabel("fine-tuning steps (batch 8)")
        axis.set_ylabel(label)
    figure.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=6.5)
    figure.suptitle(f"{check.configuration}, {check.preset} preset: LSP test half", fontsize=9)
    figure.tight_layout(rect=(0, 0.2, 1, 1))  # the legend below the two panels
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configuration", default=InitialisationCheck.configuration, help="a Table-1 row label")
    parser.add_argument("--seed", type=int, default=InitialisationCheck.seed)
    parser.add_argument("--preset", default=InitialisationCheck.preset)
    parser.add_argument("--every-steps", type=int, default=InitialisationCheck.every_steps)
    parser.add_argument("--evaluation-images", type=int, default=None, help="default: the whole test half")
    parser.add_argument(
        "--starts", nargs="+", default=list(InitialisationCheck.starts), choices=[start.key for start in STARTS]
    )
    arguments = parser.parse_args(argv)
    check = InitialisationCheck(
        arguments.configuration,
        arguments.seed,
        arguments.preset,
        arguments.every_steps,
        arguments.evaluation_images,
        tuple(arguments.starts),
    )
    curves = fine_tuning_curves(check)
    print(curves.to_string(index=False))


if __name__ == "__main__":
    main()
