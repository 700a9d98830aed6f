"""Which starting point lets the cpu preset's networks learn: the held-out curves of one Table-1
configuration fine-tuned from each start in :data:`STARTS`, all from one pretrained pair (the
shared encoder and the IEF regressor pretrained with it): the encoder frozen with the pretrained
regressor trained on it (what the cpu preset does), the encoder frozen with a fresh regressor,
the encoder trained end to end with a fresh regressor (the paper's regime), and the whole
pretrained network trained end to end.

    python -m hybridlib.studies.initialisation_check [--configuration "combined without critic"] [--seed 0]
                                                     [--starts frozen-pretrained frozen end-to-end whole-network]
                                                     [--encoder PATH]

Every run is the study's run of that configuration (its data, losses, learning rate and seed),
measured on the LSP test half at step 0 and every ``every_steps`` steps. The pair is the preset's
encoder and the regressor beside it, or ``--encoder PATH`` (e.g. a new pretraining's, before it
replaces the committed one). The curves, with the trivial row and the studies issue's bars
(PCK@0.2 ≥ 60 %, PA-MPJPE ≥ 20 % below the trivial row), go to
``results/initialisation_check/<preset>/``; each row names the encoder, machine and precision it
was measured with; rows of other starts, seeds and encoders are kept from the file as it was (so
one start can be re-measured alone), and the figure and ``starts_compared.md`` show this call's
encoder.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: figures go to files, whatever the backend

from hybridlib.atomic_write import atomic_write_text
from hybridlib.checksum import sha256_of
from hybridlib.evaluation.evaluate import EvaluationConfig, evaluate_checkpoint
from hybridlib.evaluation.verdicts import Comparison, finding
from hybridlib.machine import machine_name
from hybridlib.models.regressor import regressor_weights_path
from hybridlib.paths import results_root, runs_root
from hybridlib.studies.presets import ParameterError, resolve_settings
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
    frozen during the fine-tuning, and whether the regressor starts pretrained (else fresh, from Θ_0)."""

    label: str
    key: str
    freeze_encoder: bool
    pretrained_regressor: bool


STARTS = (
    Start("shared encoder frozen, pretrained regressor", "frozen-pretrained", True, pretrained_regressor=True),
    Start("shared encoder frozen, fresh regressor", "frozen", True, pretrained_regressor=False),
    Start("shared encoder, fresh regressor", "end-to-end", False, pretrained_regressor=False),
    Start("whole pretrained network", "whole-network", False, pretrained_regressor=True),
)
# (first, second) start keys whose last measurements starts_compared.md sets against each other
COMPARED = (("frozen-pretrained", "frozen"), ("frozen", "end-to-end"))
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
    check: InitialisationCheck = InitialisationCheck(), encoder_weights: Path | None = None
) -> pd.DataFrame:
    """Train the check's configuration from each of its starts (:data:`STARTS`) on the pair of
    ``encoder_weights`` (None: the preset's) and the regressor beside it, measuring it at step 0
    and every ``every_steps`` steps; returns one row per start and measurement (PCK@0.2,
    PA-MPJPE, KPR, …, the encoder, machine and precision) and writes the curves — with the kept
    rows of other starts, seeds and encoders — the trivial row, the figure and the comparison of
    the starts. Interrupted, it resumes (the runs are in ``runs/initialisation_check/``; finished
    measurements are not redone)."""
    starts = [start for start in STARTS if start.key in check.starts]
    unknown = sorted(set(check.starts) - {start.key for start in STARTS})
    if unknown or not starts:
        raise ParameterError(f"starts must be some of {[start.key for start in STARTS]}, got {list(check.starts)}")
    settings = resolve_settings("02_lsp_ablation", PRESET=check.preset)
    if encoder_weights is None and settings.preset.encoder_weights is None:
        raise ParameterError(
            f"the {check.preset} preset starts from no pretrained pair: pass --encoder with the path of an encoder "
            "that has its _regressor.pt beside it (make pretrained-encoder writes one)"
        )
    encoder_weights = Path(encoder_weights or settings.preset.encoder_weights)
    regressor_weights = regressor_weights_path(encoder_weights)
    for part, path in (("encoder", encoder_weights), ("regressor", regressor_weights)):
        if not path.is_file():
            raise FileNotFoundError(
                f"the pretrained {part} {path} is missing: every start begins from the pair make pretrained-encoder "
                "writes (the encoder and <its name>_regressor.pt); pass --encoder with the path of such an encoder"
            )
    specs = {spec.label: spec for _, _, spec in table_1_specs()}
    if check.configuration not in specs:
        raise ParameterError(f"configuration must be one of {sorted(specs)}, got {check.configuration!r}")
    if specs[check.configuration].w_mr_ramp_fraction:
        raise ParameterError(
            f"{check.configuration!r} ramps w_mr over the run: a run stopped to be measured ramps otherwise"
        )
    data_dir = ensure_data(settings, progress=False)
    spec = replace(specs[check.configuration], seed=check.seed)
    encoder = f"{encoder_weights.name} (sha256 {sha256_of(encoder_weights)[:12]})"
    evaluation = EvaluationConfig(max_images=check.evaluation_images, progress=False)
    out_dir = results_root() / "initialisation_check" / check.preset
    key = {"configuration": check.configuration, "seed": check.seed, "encoder": encoder}
    rows = []
    if (out_dir / "curves.csv").is_file():  # other starts, seeds, configurations and encoders, as measured before
        kept = _with_key(pd.read_csv(out_dir / "curves.csv"))
        remeasured = kept["start"].isin([start.label for start in starts])
        for column, value in key.items():
            remeasured &= kept[column] == value
        rows = kept[~remeasured].to_dict("records")
    for start in starts:
        preset = replace(
            settings.preset,
            pretrained=True,
            encoder_weights=str(encoder_weights),
            regressor_weights=str(regressor_weights) if start.pretrained_regressor else None,
            freeze_encoder=start.freeze_encoder,
        )
        study_run = train_config(replace(settings, preset=preset), spec, data_dir, progress=False)
        run_dir = runs_root() / "initialisation_check" / check.preset / start.key / Path(study_run.out_dir).name
        config = replace(study_run, out_dir=str(run_dir))
        measured_file = run_dir / "curve.csv"  # kept as it grows: an interrupted check resumes
        measured = pd.read_csv(measured_file).to_dict("records") if measured_file.is_file() else []
        if not config.checkpoint_path.is_file():
            write_initial_checkpoint(config)
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
        ["encoder", "configuration", "seed", "start"],
        key=lambda column: column.map(order) if column.name == "start" else column,
        kind="stable",
        ignore_index=True,
    )
    trivial = trivial_rows(settings, data_dir, "trivial: mean Θ, no image", max_images=check.evaluation_images)
    trivial = trivial.iloc[[0]].drop(columns="seed")
    atomic_write_text(out_dir / "curves.csv", curves.to_csv(index=False), what="fine-tuning curves")
    atomic_write_text(out_dir / "trivial.csv", trivial.to_csv(index=False), what="trivial row")
    shown = curves[(curves["configuration"] == check.configuration) & (curves["encoder"] == encoder)]
    _plot(shown, trivial.iloc[0], check, encoder, settings.preset.batch_size, out_dir / "curves.png")
    atomic_write_text(out_dir / "starts_compared.md", starts_compared(shown, trivial.iloc[0]), what="comparison")
    return curves


# the encoder of every row written before the rows named theirs: the first committed one (62d962a)
FIRST_ENCODER = "encoder_resnet18_128px_generated_3d.pt (sha256 47662e196ae1)"


def _with_key(curves: pd.DataFrame) -> pd.DataFrame:
    """Curves with their configuration, seed and encoder columns: files written before the check
    took other seeds hold the rows of its defaults (the only ones it was run with), and files
    written before it named the encoder were measured with :data:`FIRST_ENCODER`."""
    defaults = (
        ("configuration", InitialisationCheck.configuration),
        ("seed", InitialisationCheck.seed),
        ("encoder", FIRST_ENCODER),
    )
    for position, (column, default) in enumerate(defaults):
        if column not in curves.columns:
            curves.insert(position, column, default)
    return curves


def starts_compared(curves: pd.DataFrame, trivial: pd.Series) -> str:
    """Markdown, for one configuration's curves on one encoder: each start's last measurement
    (mean over seeds) against the studies issue's bars, and each pair of :data:`COMPARED` at its
    last step over the seeds both were measured with — paired differences of PCK@0.2, PA-MPJPE
    and L_kpr with their 95 % intervals, and the training time of each."""
    labels = {start.key: start.label for start in STARTS}
    pa_mpjpe_bar = PA_MPJPE_FRACTION_BAR * trivial["pa_mpjpe_mm"]
    configurations, encoders = (", ".join(sorted(set(curves[column]))) for column in ("configuration", "encoder"))
    lines = [
        f"# Starts compared: {configurations}; encoder {encoders}",
        "",
        f"Bars: PCK@0.2 ≥ {PCK_BAR:.0f} %, PA-MPJPE ≤ {pa_mpjpe_bar:.1f} mm (the trivial row's "
        f"{trivial['pa_mpjpe_mm']:.1f} − 20 %); trivial PCK@0.2 {trivial['pck_0.2']:.1f} %.",
        "",
        "| start | step | seeds | PCK@0.2 % | PA-MPJPE mm | meets both bars |",
        "|---|---|---|---|---|---|",
    ]
    for start in STARTS:
        curve = curves[curves["start"] == start.label]
        if curve.empty:
            continue
        last = curve[curve["steps"] == curve["steps"].max()]
        pck, pa_mpjpe = last["pck_0.2"].mean(), last["pa_mpjpe_mm"].mean()
        meets = "yes" if pck >= PCK_BAR and pa_mpjpe <= pa_mpjpe_bar else "no"
        lines.append(f"| {start.label} | {last['steps'].max()} | {len(last)} | {pck:.1f} | {pa_mpjpe:.1f} | {meets} |")
    lines.append("")
    last = curves[curves["steps"] == curves["steps"].max()]
    for first, second in COMPARED:
        first, second = labels[first], labels[second]
        pair = last[last["start"].isin([first, second])]
        if set(pair["start"]) != {first, second}:
            lines += [f"- {first} vs {second}: not both measured at step {last['steps'].max()}", ""]
            continue
        comparisons = [
            Comparison("pck_0.2", {"start": first}, {"start": second}, higher_is_better=True, name="PCK@0.2 (%)"),
            Comparison("pa_mpjpe_mm", {"start": first}, {"start": second}, name="PA-MPJPE (mm)"),
            Comparison("kpr_loss", {"start": first}, {"start": second}, name="L_kpr"),
        ]
        claim = f"after {int(pair['steps'].max())} steps, {first} does better than {second}"
        seconds = pair.groupby("start")["training_seconds"].mean()
        lines += [
            f"- {finding(claim, pair, comparisons)}",
            f"  - training seconds, mean over seeds: {seconds[first]:.0f} against {seconds[second]:.0f}; "
            f"machines: {', '.join(sorted(set(pair['machine'].dropna())))}",
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


def _plot(
    curves: pd.DataFrame, trivial: pd.Series, check: InitialisationCheck, encoder: str, batch_size: int, path: Path
) -> None:
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
        axis.set_xlabel(f"fine-tuning steps (batch {batch_size})")
        axis.set_ylabel(label)
    figure.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=6.5)
    figure.suptitle(f"{check.configuration}, {check.preset} preset, {encoder}: LSP test half", fontsize=9)
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
    parser.add_argument("--encoder", type=Path, default=None, help="an encoder with its _regressor.pt beside it")
    arguments = parser.parse_args(argv)
    check = InitialisationCheck(
        arguments.configuration,
        arguments.seed,
        arguments.preset,
        arguments.every_steps,
        arguments.evaluation_images,
        tuple(arguments.starts),
    )
    curves = fine_tuning_curves(check, arguments.encoder)
    print(curves.to_string(index=False))


if __name__ == "__main__":
    main()
