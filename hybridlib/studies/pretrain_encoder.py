"""The cpu preset's shared starting point: a network (encoder + IEF regressor) pretrained on
generated images with their 3D truth, built once by a fixed recipe and committed (as the open body model is).

    python -m hybridlib.studies.pretrain_encoder [--epochs 3] [--lspet 80000] [--out PATH]
    (or: make pretrained-encoder)

The paper starts every configuration from one ImageNet-pretrained ResNet-50; offline there are
no ImageNet weights, and trained from random weights the cpu preset's networks stay at the
level of predicting the mean pose. So every configuration and seed of the cpu preset starts
from this one network instead (a documented deviation, docs/method.md). It is trained on a
generated set of its own (a different seed from the study data: other poses, shapes, clothes
and backgrounds), supervised with the generated 3D truth — pose, β, 3D keypoints
(:mod:`hybridlib.losses.supervised_3d`) — plus L_kpr, so that it favours neither studied loss
over the other (no silhouette, no critic). The encoder and the IEF regressor trained with it are
kept (float16, loaded with ``weights_only``; the regressor beside the encoder as
``<name>_regressor.pt``, tied to it by the encoder file's SHA-256): the cpu preset's runs start
from both (in Tables 1 and 2 the encoder stays frozen: :mod:`hybridlib.studies.presets`).

Every 2,500 steps the network is evaluated on the held-out LSP test half of its own set; the
learning curve goes to ``results/pretrained_encoder/<name>.curve.csv`` and ``.png``, the recipe
and measurements into the weights file's provenance and the ``.json`` beside it. Interrupted,
it resumes (the training run's checkpoint is in ``runs/pretrain_encoder/<recipe>/``, one folder
per recipe). ``--epochs`` and ``--lspet`` (the number of generated LSPET-format training images)
make another recipe, for an attempt at a better start: give it its own ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: figures go to files, whatever the backend

from hybridlib.atomic_write import atomic_write_text
from hybridlib.data.generate import GeneratorConfig, generate_dataset
from hybridlib.evaluation.evaluate import EvaluationConfig, evaluate_checkpoint
from hybridlib.machine import machine_description
from hybridlib.models.encoder import save_encoder_weights
from hybridlib.models.regressor import regressor_weights_path, save_regressor_weights
from hybridlib.paths import data_root, results_root, runs_root
from hybridlib.studies.presets import PRETRAINED_ENCODER, GeneratedData
from hybridlib.studies.provenance import git_commit
from hybridlib.training.batches import training_set
from hybridlib.training.config import TrainConfig
from hybridlib.training.loop import train
from hybridlib.training.loss_log import read_loss_log, training_seconds


@dataclass(frozen=True)
class PretrainRecipe:
    """How the shared encoder is made: its data (generated, seed disjoint from the studies'),
    network, epochs, learning rate (its last epoch at ``final_lr_factor`` × ``lr``, a step
    decay) and losses (w_kpr the studies', w_3d = w_kpr / 5 as SPIN weighs its 3D against its
    2D keypoints), and how often and on how many held-out test images it is measured."""

    data: GeneratedData = field(default_factory=lambda: GeneratedData(lsp=2000, lspet=80000, mosh=200, seed=1000))
    backbone: str = "resnet18"
    image_size: int = 128
    epochs: int = 3
    batch_size: int = 8
    lr: float = 3e-4
    final_lr_factor: float = 0.1
    w_kpr: float = 60.0
    w_3d: float = 12.0
    seed: int = 0
    evaluate_every_steps: int = 2500
    evaluation_images: int = 300
    precision: str = "auto"

    def run_name(self) -> str:
        """The training run's folder name: network, seed and a digest of every setting that
        changes the training (not where or on how many images it is measured), so that a
        recipe never resumes another recipe's run."""
        trained = {key: value for key, value in asdict(self).items() if key not in _MEASUREMENT_ONLY}
        digest = hashlib.sha256(json.dumps(trained, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.backbone}-{self.image_size}px-seed{self.seed}-{digest}"

    def train_config(self, data_dir: Path, max_steps: int | None = None, lr: float | None = None) -> TrainConfig:
        """The training run, stopped after ``max_steps`` steps (a later call resumes it), at
        learning rate ``lr`` (None: the recipe's)."""
        return TrainConfig(
            data_root=str(data_dir),
            out_dir=str(runs_root() / "pretrain_encoder" / self.run_name()),
            use_lspet=True,
            image_size=self.image_size,
            backbone=self.backbone,
            pretrained=False,
            critic="none",
            w_kpr=self.w_kpr,
            w_mr=0.0,
            w_3d=self.w_3d,
            batch_size=self.batch_size,
            lr_generator=self.lr if lr is None else lr,
            epochs=self.epochs,
            max_steps=max_steps,
            seed=self.seed,
            num_workers=1,
            precision=self.precision,
        )

    def stops(self, steps_per_epoch: int) -> list[tuple[int, float]]:
        """(step, learning rate up to it) of every measurement: each ``evaluate_every_steps``,
        where the last epoch's decay starts, and the end."""
        total = self.epochs * steps_per_epoch
        decay_from = (self.epochs - 1) * steps_per_epoch if self.epochs > 1 else total
        steps = sorted({*range(self.evaluate_every_steps, total, self.evaluate_every_steps), decay_from, total})
        return [(step, self.lr if step <= decay_from else self.lr * self.final_lr_factor) for step in steps]


_MEASUREMENT_ONLY = ("evaluate_every_steps", "evaluation_images")


def pretrain_encoder(
    recipe: PretrainRecipe = PretrainRecipe(), out_path: Path = PRETRAINED_ENCODER, data_dir: Path | None = None
) -> Path:
    """Generate the recipe's data (or use the generated set ``data_dir``), train with a
    measurement at each of the recipe's stops, and write the encoder to ``out_path`` and the
    regressor beside it (:func:`~hybridlib.models.regressor.regressor_weights_path`; their
    provenance in the ``.json`` beside the encoder, the curve in ``results/pretrained_encoder/``). The
    curve is kept in the run folder as it grows, so an interrupted call resumes without losing
    its measurements."""
    started, commit = time.perf_counter(), git_commit()  # the code that runs, read before it runs
    if data_dir is None:
        data_dir = data_root() / recipe.data.folder_name
        sizes = {"lsp": recipe.data.lsp, "lspet": recipe.data.lspet, "mosh": recipe.data.mosh}
        generate_dataset(data_dir, GeneratorConfig(**sizes, seed=recipe.data.seed))
    generated_seconds = time.perf_counter() - started
    training_images = len(training_set(recipe.train_config(data_dir)))
    stops = recipe.stops(training_images // recipe.batch_size)
    curve_path = Path(recipe.train_config(data_dir).out_dir) / "curve.csv"
    curve = pd.read_csv(curve_path).to_dict("records") if curve_path.is_file() else []
    for steps, lr in stops:
        result = train(recipe.train_config(data_dir, steps, lr))
        if any(row["steps"] == result.steps for row in curve):
            continue  # measured before an interruption
        measured = evaluate_checkpoint(
            result.checkpoint_path, data_dir, EvaluationConfig(max_images=recipe.evaluation_images, progress=False)
        ).iloc[0]
        curve.append(
            {
                "steps": result.steps,
                "images_seen": result.steps * recipe.batch_size,
                "lr": lr,
                "pck_0.2": measured["pck_0.2"],
                "pa_mpjpe_mm": measured["pa_mpjpe_mm"],
                "mpjpe_mm": measured["mpjpe_mm"],
                "kpr_loss": measured["kpr_loss"],
                "training_seconds": round(training_seconds(read_loss_log(result.log_path)), 1),
            }
        )
        atomic_write_text(curve_path, pd.DataFrame(curve).to_csv(index=False), what="learning curve")
        print(
            f"step {result.steps}/{stops[-1][0]}: PCK@0.2 {measured['pck_0.2']:.1f} %, "
            f"PA-MPJPE {measured['pa_mpjpe_mm']:.1f} mm on {recipe.evaluation_images} held-out images",
            flush=True,
        )
    curve_table = pd.DataFrame(curve)
    last = curve[-1]
    provenance = {
        "summary": (
            f"pretrained on {training_images} generated images with 3D truth + L_kpr, {recipe.epochs} epochs; "
            f"held-out PCK@0.2 {last['pck_0.2']:.1f} %, "
            f"PA-MPJPE {last['pa_mpjpe_mm']:.0f} mm"
        ),
        "recipe": json.dumps(asdict(recipe)),
        "data": str(data_dir),
        "generator": (data_dir / "generator_config.json").read_text(),
        "commit": commit,
        "machine": machine_description(),
        "precision": result.precision.reason,
        "generation_seconds": round(generated_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "curve": curve_table.to_csv(index=False),
    }
    save_encoder_weights(result.networks.model.encoder, out_path, provenance)
    regressor_path = regressor_weights_path(out_path)
    save_regressor_weights(result.networks.model.regressor, regressor_path, out_path, provenance)
    atomic_write_text(out_path.with_suffix(".json"), json.dumps(provenance, indent=1) + "\n", what="provenance")
    figures = results_root() / "pretrained_encoder"
    atomic_write_text(figures / f"{out_path.stem}.curve.csv", curve_table.to_csv(index=False), what="learning curve")
    _plot_curve(curve_table, figures / f"{out_path.stem}.curve.png")
    print(
        f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB) and {regressor_path.name} "
        f"({regressor_path.stat().st_size / 1e6:.1f} MB) in {provenance['wall_seconds']:.0f} s"
    )
    return out_path


def _plot_curve(curve: pd.DataFrame, path: Path) -> None:
    """PCK@0.2 (%) and PA-MPJPE (mm) against the training images seen, the decayed steps marked."""
    figure = Figure(figsize=(8, 3))
    left, right = figure.subplots(1, 2)
    decayed = curve["lr"] < curve["lr"].max()
    for axis, column, label in ((left, "pck_0.2", "PCK@0.2 (%)"), (right, "pa_mpjpe_mm", "PA-MPJPE (mm)")):
        axis.plot(curve["images_seen"] / 1000, curve[column], marker="o", color="tab:blue")
        axis.plot(
            curve["images_seen"][decayed] / 1000,
            curve[column][decayed],
            "o",
            color="tab:orange",
            label="decayed learning rate",
        )
        axis.set(xlabel="training images seen (thousands)", ylabel=label)
    left.set_title("held-out generated LSP test half", fontsize=10)
    left.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=PretrainRecipe.epochs)
    default_data = PretrainRecipe().data
    parser.add_argument("--lspet", type=int, default=default_data.lspet, help="generated LSPET-format training images")
    parser.add_argument("--out", type=Path, default=PRETRAINED_ENCODER, help="the encoder weights file to write")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be ≥ 1, got {args.epochs}")
    if args.lspet < 1:
        parser.error(f"--lspet must be ≥ 1, got {args.lspet}")
    recipe = PretrainRecipe(data=replace(default_data, lspet=args.lspet), epochs=args.epochs)
    return pretrain_encoder(recipe, args.out)


if __name__ == "__main__":
    main()
