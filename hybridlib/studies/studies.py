"""The paper's three studies as functions the notebooks call: each runs its configurations
once per seed of SEEDS (:mod:`hybridlib.studies.runner`), evaluates the trivial predictor (mean
Θ, no image) beside them, and writes to the study's OUT_DIR: ``runs.csv`` (one row per
configuration and seed), ``table.csv``/``.md`` (mean ± std over seeds, beside the paper),
``findings.md``/``.csv`` (the paper's claims, paired tests over seeds:
:mod:`hybridlib.evaluation.verdicts`), ``versus_trivial.md``/``.csv`` and the figures.

- :func:`run_overfit_study` — the 8-image overfitting study (paper Fig. 4): five loss settings,
  several seeds, loss curves, overlays, plausibility numbers on the 8 images.
- :func:`run_lsp_ablation` — Table 1: KPR only / MR only / combined × without / with critic on
  LSP, plus an extra row, the loss-weight schedule the paper suggests as future work.
- :func:`run_lspet_vs_hmr` — Table 2: LSP + LSP extended with the critic, KPR only and
  combined, and the HMR baseline (HMR's discriminator with L_kpr) on the same data; optionally
  a pretrained SPIN-format checkpoint evaluated on the same test images.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # no pyplot: figures go to files, whatever the backend

from hybridlib.data import AugmentationConfig, DataConfig, build_dataset, collate_samples
from hybridlib.data.check import DataCheck
from hybridlib.data.transforms import denormalise_image
from hybridlib.evaluation.evaluate import EvaluationConfig, evaluate_spin_checkpoint, load_trained
from hybridlib.evaluation.report import (
    PAPER_TABLE_1,
    PAPER_TABLE_2,
    TRIVIAL_LABEL,
    beside_paper,
    mean_over_seeds,
    table_1_findings,
    table_2_findings,
    versus_trivial,
    write_findings,
    write_table,
)
from hybridlib.evaluation.verdicts import Comparison, Finding, finding
from hybridlib.models.forward import predict
from hybridlib.rendering import overlay_mesh, tile_images
from hybridlib.studies.presets import ParameterError, StudySettings
from hybridlib.studies.runner import (
    RunSpec,
    check_study_data,
    for_every_seed,
    loss_curves,
    over_seeds,
    run_study,
    train_config,
    trivial_rows,
)

CRITIC_LABELS = {"none": "without critic", "with_rotation": "with critic", "without_rotation": "with critic"}
W_MR_RAMP_FRACTION = 0.5  # the extra Table 1 row: w_mr rises linearly over the first half of training


TRIVIAL_TITLE = "Trained configurations versus the trivial predictor (mean Θ, no image)"
OVERLAY_IMAGES = 6  # test images in a table's Fig.-5-style overlay figure


@dataclass
class StudyResult:
    """What a notebook shows: the table (ours beside the paper's; mean ± std over seeds), the
    per-seed rows, the paper's claims tested, every configuration against the trivial
    predictor, figure paths."""

    table: pd.DataFrame
    rows: pd.DataFrame
    findings: list[Finding]
    versus_trivial: list[Finding]
    figures: list[Path]
    out_dir: Path

    def verdicts_markdown(self) -> str:
        """The findings and the comparisons with the trivial predictor, as Markdown lists."""
        return "\n".join(
            ["**The paper's claims**", "", *[f"- {item}" for item in self.findings], "", f"**{TRIVIAL_TITLE}**", ""]
            + [f"- {item}" for item in self.versus_trivial]
        )


def _data_dir(settings: StudySettings, data: DataCheck | None, progress: bool) -> Path:
    """The folder ``data`` checked (a notebook's data-check cell), else checked here."""
    return (data if data is not None else check_study_data(settings, progress)).data_dir


def _write_verdicts(settings: StudySettings, findings: list[Finding], trivial: list[Finding]) -> None:
    write_findings(findings, settings.out_dir)
    write_findings(trivial, settings.out_dir, "versus_trivial", TRIVIAL_TITLE)


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each step's last ``window`` values (fewer at the start), same length as ``values``."""
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()


def _curve_figure(settings: StudySettings, groups: dict[str, list[RunSpec]], path: Path, title: str) -> Path:
    """Training L_kpr and L_mr per step: each group's per-step mean over its runs, faint, and its
    running mean over 1/25 of the run, solid (min/max over the runs' running means as a band)."""
    curves = loss_curves(settings, [spec for specs in groups.values() for spec in specs])
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2)
    window = 1
    for label, specs in groups.items():
        for axis, column in zip(axes, ("loss_kpr", "loss_mr"), strict=True):
            runs = [curves[spec.slug][column] for spec in specs]
            length = min(len(run) for run in runs)
            window = max(1, length // 25)
            stacked = np.stack([run[:length] for run in runs])
            smoothed = np.stack([running_mean(run, window) for run in stacked])
            steps = np.arange(1, length + 1)
            (line,) = axis.plot(steps, smoothed.mean(axis=0), label=label)
            if window > 1:
                axis.plot(steps, stacked.mean(axis=0), color=line.get_color(), alpha=0.2, linewidth=0.6)
            if len(runs) > 1:
                axis.fill_between(steps, smoothed.min(axis=0), smoothed.max(axis=0), color=line.get_color(), alpha=0.2)
    for axis, name in zip(axes, ("L_kpr (normalised coordinates)", "L_mr (pixels²)"), strict=True):
        axis.set_xlabel("step")
        axis.set_ylabel(name)
        axis.set_yscale("log")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{title}; solid: running mean over {window} steps" if window > 1 else title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def _bars_beside_paper(table: pd.DataFrame, label_column: str, path: Path, title: str) -> Path:
    """Validation KPR and MR losses per row: ours and the paper's, side by side."""
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2)
    positions = np.arange(len(table))
    for axis, column in zip(axes, ("kpr_loss", "mr_loss"), strict=True):
        spread = table[f"{column}_std"] if f"{column}_std" in table.columns else None
        ours = axis.bar(
            positions - 0.2, table[column], width=0.4, yerr=spread, capsize=3, label="hybridlib ± std over seeds (left)"
        )
        paper_axis = (
            axis.twinx()
        )  # own scale: the paper's numbers come from other data (and, for MR, another normalisation)
        theirs = paper_axis.bar(
            positions + 0.2, table[f"paper_{column}"], width=0.4, label="paper (real LSP, right axis)", color="grey"
        )
        axis.set_xticks(positions, table[label_column], rotation=30, ha="right", fontsize=8)
        axis.set_ylabel(column.replace("_", " ") + " (weighted), ours")
        paper_axis.set_ylabel("paper")
        axis.grid(axis="y", alpha=0.3)
    figure.legend([ours, theirs], [ours.get_label(), theirs.get_label()], loc="upper left", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


OVERFIT_SETTINGS: tuple[tuple[str, dict], ...] = (
    ("KPR only", {"w_mr": 0.0}),
    ("MR only", {"w_kpr": 0.0}),
    ("combined", {}),
    ("combined + critic without rotation", {"critic": "without_rotation"}),
    ("combined + critic with rotation", {"critic": "with_rotation"}),
)
OVERFIT_IMAGES = 8


def _mesh_overlays(
    settings: StudySettings, specs: list[RunSpec], data_dir: Path, split: str, count: int, path: Path, title: str
) -> Path:
    """Rows = configurations (``specs``), columns = the first ``count`` images of ``split``
    (validation crops): each configuration's predicted mesh over the same images (paper Fig. 5)."""
    overlays = []
    for spec in specs:
        networks, config, _ = load_trained(train_config(settings, spec, data_dir).checkpoint_path)
        dataset = build_dataset(
            DataConfig(root=data_dir, augmentation=AugmentationConfig(image_size=config.image_size, augment=False)),
            split,
        )
        batch = collate_samples([dataset[index] for index in range(min(count, len(dataset)))])
        networks.model.eval()
        with torch.no_grad():
            pred = predict(networks, batch.image)
        overlays.extend(
            overlay_mesh(denormalise_image(image.permute(1, 2, 0).numpy()), vertices, networks.body_model.faces, camera)
            for image, vertices, camera in zip(batch.image, pred.output.vertices, pred.parts.camera, strict=True)
        )
    columns = len(overlays) // len(specs)
    figure = Figure(figsize=(2.3 * columns, 2.0 * len(specs)))
    axis = figure.subplots()
    axis.imshow(tile_images(overlays, columns))
    size = overlays[0].shape[0]
    axis.set_yticks([size * (index + 0.5) for index in range(len(specs))], [spec.label for spec in specs], fontsize=8)
    axis.set_xticks([])
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")  # long row labels stay whole
    return path


def overfit_groups(settings: StudySettings) -> dict[str, list[RunSpec]]:
    """The overfitting study's settings, each over the study's seeds."""
    base = RunSpec(
        label="",
        max_images=OVERFIT_IMAGES,
        steps=settings.preset.overfit_steps,
        augment=False,
        batch_size=OVERFIT_IMAGES,
        evaluate_on="train",
        freeze_encoder=False,  # how well each loss fits 8 images: the whole network, as in the paper
    )
    return {
        label: over_seeds([replace(base, label=label, **changes)], settings.seeds)
        for label, changes in OVERFIT_SETTINGS
    }


def run_overfit_study(settings: StudySettings, data: DataCheck | None = None, progress: bool = True) -> StudyResult:
    """The 8-image overfitting study over the study's seeds (``data``: the notebook's data check)."""
    data_dir = _data_dir(settings, data, progress)
    groups = overfit_groups(settings)
    rows = run_study(settings, [spec for group in groups.values() for spec in group], data_dir, progress)
    trivial = trivial_rows(settings, data_dir, TRIVIAL_LABEL, split="train", max_images=OVERFIT_IMAGES)
    rows = pd.concat([rows, trivial], ignore_index=True)
    table = mean_over_seeds(rows, ["configuration"])
    write_table(rows, settings.out_dir, "runs")
    write_table(table, settings.out_dir)
    out = settings.out_dir
    figures = [
        draw_loss_curves("01_overfit_8_images", settings),
        _mesh_overlays(
            settings,
            [group[0] for group in groups.values()],
            data_dir,
            "train",
            OVERFIT_IMAGES,
            out / "overlays.png",
            f"the 8 training images, predicted meshes per loss setting (seed {settings.seeds[0]})",
        ),
    ]
    combined, mr_only = {"configuration": "combined"}, {"configuration": "MR only"}
    with_rotation = {"configuration": "combined + critic with rotation"}
    findings = [
        finding(
            "MR only fits the keypoints worse than combined",
            rows,
            [Comparison("kpr_loss", combined, mr_only, name="KPR combined − MR only")],
        ),
        finding(
            "the critic with rotation keeps the overfitted bodies more plausible than no critic",
            rows,
            [
                Comparison(
                    "joints_outside_limits_pct",
                    with_rotation,
                    combined,
                    name="% joints outside limits, critic with rotation − combined",
                )
            ],
        ),
    ]
    trivial_findings = versus_trivial(rows, ["configuration"], {"configuration": TRIVIAL_LABEL})
    _write_verdicts(settings, findings, trivial_findings)
    return StudyResult(table, rows, findings, trivial_findings, figures, out)


def table_1_specs(
    critic: str = "with_rotation", ramp_fraction: float = W_MR_RAMP_FRACTION
) -> list[tuple[str, str, RunSpec]]:
    """(critic label, losses label, spec) for Table 1's rows and the extra schedule row."""
    rows = []
    for variant in ("none", critic):
        for losses, changes in (("KPR only", {"w_mr": 0.0}), ("MR only", {"w_kpr": 0.0}), ("combined", {})):
            rows.append(
                (
                    CRITIC_LABELS[variant],
                    losses,
                    RunSpec(label=f"{losses} {CRITIC_LABELS[variant]}", critic=variant, **changes),
                )
            )
    extra = f"combined, w_mr ramp over {ramp_fraction:.0%} (extra)"
    rows.append(
        (
            CRITIC_LABELS[critic],
            extra,
            RunSpec(label=f"{extra} {CRITIC_LABELS[critic]}", critic=critic, w_mr_ramp_fraction=ramp_fraction),
        )
    )
    return rows


def run_lsp_ablation(
    settings: StudySettings,
    critic: str = "with_rotation",
    ramp_fraction: float = W_MR_RAMP_FRACTION,
    data: DataCheck | None = None,
    progress: bool = True,
) -> StudyResult:
    """Table 1 on LSP (train half → test half), every row over the study's seeds, and the
    trivial predictor (``data``: the notebook's data check)."""
    data_dir = _data_dir(settings, data, progress)
    rows_spec = [
        (critic_label, losses, replace(spec, seed=seed))
        for seed in settings.seeds
        for critic_label, losses, spec in table_1_specs(critic, ramp_fraction)
    ]
    rows = run_study(settings, [spec for _, _, spec in rows_spec], data_dir, progress)
    rows["critic"] = [critic_label for critic_label, _, _ in rows_spec]  # the paper's labels, not the variant names
    rows["losses"] = [losses for _, losses, _ in rows_spec]
    trivial = trivial_rows(settings, data_dir, TRIVIAL_LABEL, max_images=settings.preset.eval_max_images)
    trivial["critic"], trivial["losses"] = "—", TRIVIAL_LABEL
    rows = pd.concat([rows, trivial], ignore_index=True)
    write_table(rows, settings.out_dir, "runs")
    table = beside_paper(mean_over_seeds(rows, ["critic", "losses"]), PAPER_TABLE_1, ["critic", "losses"])
    write_table(table, settings.out_dir)
    findings = table_1_findings(rows)
    trivial_findings = versus_trivial(rows, ["critic", "losses"], {"critic": "—", "losses": TRIVIAL_LABEL})
    _write_verdicts(settings, findings, trivial_findings)
    labelled = table.assign(row=table["losses"] + ", " + table["critic"])
    first_seed = [spec for _, _, spec in rows_spec if spec.seed == settings.seeds[0]]
    figures = [
        _bars_beside_paper(
            labelled, "row", settings.out_dir / "table.png", f"Table 1 ({settings.preset.name} preset) beside the paper"
        ),
        draw_loss_curves("02_lsp_ablation", settings, critic, ramp_fraction),
        _mesh_overlays(
            settings,
            first_seed,
            data_dir,
            "test",
            OVERLAY_IMAGES,
            settings.out_dir / "overlays.png",
            f"the first {OVERLAY_IMAGES} test images, predicted meshes per configuration (seed {settings.seeds[0]})",
        ),
    ]
    return StudyResult(table, rows, findings, trivial_findings, figures, settings.out_dir)


PRETRAINED_LABEL = "pretrained checkpoint (SPIN format, not trained here)"


def table_2_specs(critic: str = "with_rotation") -> list[RunSpec]:
    """Table 2's trained rows, on LSP + LSP extended."""
    return [
        RunSpec(label="KPR only", critic=critic, w_mr=0.0, use_lspet=True),
        RunSpec(label="combined", critic=critic, use_lspet=True),
        RunSpec(label="HMR baseline", critic="hmr", w_mr=0.0, use_lspet=True),
    ]


def run_lspet_vs_hmr(
    settings: StudySettings,
    critic: str = "with_rotation",
    pretrained_checkpoint: str | Path | None = None,
    data: DataCheck | None = None,
    progress: bool = True,
) -> StudyResult:
    """Table 2 on LSP + LSP extended (test: LSP's test half), every row over the study's seeds,
    and the trivial predictor. With ``pretrained_checkpoint`` (a SPIN-format ``.pt``,
    :mod:`hybridlib.models.spin_format`), one more row evaluates it on the same test images, at
    224 px, posed by the study's body model. ``data``: the notebook's data check."""
    if pretrained_checkpoint is not None and not Path(pretrained_checkpoint).is_file():
        raise ParameterError(
            f"PRETRAINED_CHECKPOINT {pretrained_checkpoint} is not a file: give SPIN's model_checkpoint.pt (or one "
            "in its layout), or None"
        )
    data_dir = _data_dir(settings, data, progress)
    specs = over_seeds(table_2_specs(critic), settings.seeds)
    rows = run_study(settings, specs, data_dir, progress)
    trivial = trivial_rows(settings, data_dir, TRIVIAL_LABEL, max_images=settings.preset.eval_max_images)
    rows = pd.concat([rows, trivial], ignore_index=True)
    if pretrained_checkpoint is not None:
        evaluation = EvaluationConfig(
            device=settings.preset.device, max_images=settings.preset.eval_max_images, progress=progress
        )
        pretrained = evaluate_spin_checkpoint(pretrained_checkpoint, data_dir, settings.preset.body_model, evaluation)
        rows = pd.concat([rows, for_every_seed(pretrained, PRETRAINED_LABEL, settings.seeds)], ignore_index=True)
    write_table(rows, settings.out_dir, "runs")
    table = beside_paper(mean_over_seeds(rows, ["configuration"]), PAPER_TABLE_2, ["configuration"])
    write_table(table, settings.out_dir)
    findings = table_2_findings(rows)
    trivial_findings = versus_trivial(rows, ["configuration"], {"configuration": TRIVIAL_LABEL})
    _write_verdicts(settings, findings, trivial_findings)
    figures = [
        _bars_beside_paper(
            table,
            "configuration",
            settings.out_dir / "table.png",
            f"Table 2 ({settings.preset.name} preset) beside the paper",
        ),
        draw_loss_curves("03_lspet_vs_hmr", settings, critic),
        _mesh_overlays(
            settings,
            over_seeds(table_2_specs(critic), settings.seeds[:1]),
            data_dir,
            "test",
            OVERLAY_IMAGES,
            settings.out_dir / "overlays.png",
            f"the first {OVERLAY_IMAGES} test images, predicted meshes per configuration, paper Fig. 5 "
            f"(seed {settings.seeds[0]})",
        ),
    ]
    return StudyResult(table, rows, findings, trivial_findings, figures, settings.out_dir)


def draw_loss_curves(
    study: str, settings: StudySettings, critic: str = "with_rotation", ramp_fraction: float = W_MR_RAMP_FRACTION
) -> Path:
    """Draw ``OUT_DIR/loss_curves.png`` of a study from the loss logs in ``OUT_DIR/losses/``
    (no training: also redraws a finished study's figure, ``python -m hybridlib.studies
    --redraw-loss-curves``). ``critic`` and ``ramp_fraction`` as the study was run with."""
    if study == "01_overfit_8_images":
        groups = overfit_groups(settings)
        title = (
            f"8-image overfitting, seeds {list(settings.seeds)} ({settings.preset.name}); "
            "L_mr is not computed when w_mr = 0"
        )
    elif study == "02_lsp_ablation":
        groups = {spec.label: over_seeds([spec], settings.seeds) for _, _, spec in table_1_specs(critic, ramp_fraction)}
        title = f"training losses, Table 1 runs, seeds {list(settings.seeds)}"
    elif study == "03_lspet_vs_hmr":
        groups = {spec.label: over_seeds([spec], settings.seeds) for spec in table_2_specs(critic)}
        title = f"training losses, Table 2 runs, seeds {list(settings.seeds)}"
    else:
        raise ValueError(f"unknown study {study!r}: choose 01_overfit_8_images, 02_lsp_ablation or 03_lspet_vs_hmr")
    return _curve_figure(settings, groups, settings.out_dir / "loss_curves.png", title)
