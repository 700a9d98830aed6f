"""Run a study's configurations: get the data, train each configuration (resuming finished or
interrupted runs), evaluate it, and write the table, loss curves and provenance.

Checkpoints live under ``runs/<study>/<preset>/<configuration>/`` (not committed); the small
outputs — ``table.csv``, ``table.md``, figures, per-step ``losses/<configuration>.csv`` and
``provenance.json`` — under the study's OUT_DIR (``results/<study>/<preset>/`` by default).
Both, and the generated data (``data/``), are under the workspace folder of :mod:`hybridlib.paths`
(``HYBRIDLIB_HOME``; by default the checkout).
Re-running a study with the same OUT_DIR reuses every finished configuration.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from hybridlib.atomic_write import atomic_write, atomic_write_text
from hybridlib.checksum import sha256_of
from hybridlib.data.check import DATASETS, STUDY_NEEDS, DataCheck, require_usable
from hybridlib.data.generate import GeneratorConfig, generate_dataset
from hybridlib.evaluation import EvaluationConfig, evaluate_checkpoint, evaluate_trivial
from hybridlib.losses.weights import W_KPR, W_MR
from hybridlib.models.forward import resolve_device
from hybridlib.paths import runs_root
from hybridlib.precision import BF16_MIXED_SCOPE, PrecisionChoice
from hybridlib.studies.presets import StudySettings, generated_data_dir
from hybridlib.studies.provenance import collect_provenance
from hybridlib.training import TrainConfig, read_loss_log, train, training_seconds


@dataclass(frozen=True)
class RunSpec:
    """One row of a study: its label and the training settings that differ between rows."""

    label: str
    critic: str = "none"
    w_kpr: float = W_KPR
    w_mr: float = W_MR
    w_mr_ramp_fraction: float = 0.0
    use_lspet: bool = False
    seed: int = 0
    max_images: int | None = None
    steps: int | None = None  # fixed step count (the overfitting study); None = the preset's epochs
    augment: bool = True
    batch_size: int | None = None  # None = the preset's
    freeze_encoder: bool | None = None  # None = the preset's
    evaluate_on: str = "test"  # "train": the (first max_images) training images, centred crops

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", f"{self.label} seed{self.seed}".lower()).strip("_")


def check_study_data(settings: StudySettings, progress: bool = True) -> DataCheck:
    """DATA_DIR, or the preset's generated stand-in (generated once, then reused), checked
    (:mod:`hybridlib.data.check`) for the datasets the study reads: a bad folder fails here,
    before any training, with a :class:`~hybridlib.data.check.DataCheckError`."""
    folder = settings.data_dir
    if folder is None:
        data = settings.preset.generated_data
        folder = generated_data_dir(data)
        if not (folder / "README.md").is_file():  # written last: the set is complete
            sizes = {"lsp": data.lsp, "lspet": data.lspet, "mosh": data.mosh, "seed": data.seed}
            generate_dataset(folder, GeneratorConfig(**sizes, body_model=settings.preset.body_model), progress=progress)
    return require_usable(folder, STUDY_NEEDS.get(settings.study, DATASETS), progress)


def ensure_data(settings: StudySettings, progress: bool = True) -> Path:
    """The study's data folder, generated where needed and checked (:func:`check_study_data`)."""
    return check_study_data(settings, progress).data_dir


def train_config(settings: StudySettings, spec: RunSpec, data_dir: Path, progress: bool = True) -> TrainConfig:
    """The TrainConfig of one configuration: preset + the row's settings (its seed included)."""
    preset = settings.preset
    epochs = preset.epochs_lspet if spec.use_lspet else preset.epochs_lsp
    freeze_encoder = preset.freeze_encoder if spec.freeze_encoder is None else spec.freeze_encoder
    config = TrainConfig(
        data_root=str(data_dir),
        out_dir="",  # set below, from the configuration's fingerprint
        use_lspet=spec.use_lspet,
        image_size=preset.image_size,
        backbone=preset.backbone,
        pretrained=preset.pretrained,
        encoder_weights=preset.encoder_weights,
        regressor_weights=preset.regressor_weights,
        freeze_encoder=freeze_encoder,
        encoder_features_dir=str(runs_root() / ENCODER_FEATURES_FOLDER) if freeze_encoder else None,
        body_model=preset.body_model,
        critic=spec.critic,
        w_kpr=spec.w_kpr,
        w_mr=spec.w_mr,
        w_mr_ramp_fraction=spec.w_mr_ramp_fraction,
        batch_size=spec.batch_size or preset.batch_size,
        epochs=epochs if spec.steps is None else 10**9,
        max_steps=spec.steps if spec.steps is not None else preset.max_steps,
        max_images=spec.max_images,
        augment=spec.augment,
        seed=spec.seed,
        num_workers=preset.num_workers,
        device=preset.device,
        precision=preset.precision,
        checkpoint_every=preset.checkpoint_every,
        progress=progress,
    )
    # runs with any different setting never share a folder (and so never resume each other)
    fingerprint = hashlib.sha256(json.dumps(_fingerprinted(config), sort_keys=True).encode()).hexdigest()[:8]
    return replace(config, out_dir=str(runs_root() / settings.study / preset.name / f"{spec.slug}-{fingerprint}"))


# TrainConfig fields added after studies first cached their runs: at their defaults they stay out
# of the fingerprint, so runs finished before the field existed are still found and reused.
_ADDED_FIELDS_DEFAULTS = {
    "channels_last": None,
    "compile": False,
    "w_3d": 0.0,
    "freeze_encoder": False,
    "regressor_weights": None,
}
# where frozen runs share their encoder's outputs (hybridlib.training.encoder_features), under runs/
ENCODER_FEATURES_FOLDER = "encoder_features"


def _data_identity(data_root: str) -> str:
    """A data folder as a run's fingerprint holds it: a generated stand-in by what generated it
    (its ``generator_config.json``), wherever the workspace lies; other data by its path."""
    generator_config = Path(data_root) / "generator_config.json"
    if generator_config.is_file():
        return f"generated: {sha256_of(generator_config)}"
    return str(Path(data_root).resolve())


def _fingerprinted(config: TrainConfig) -> dict[str, object]:
    """The settings a run folder's name is derived from: all but the progress bar and the
    encoder-features folder, which change no number (and the added fields, at their
    defaults); the encoder's and regressor's starting weights and the body model by their content, so that runs
    from a rebuilt file never reuse runs from the old one, and a moved checkout or workspace
    finds its runs again (the generated data by what generated it: :func:`_data_identity`); for
    runs that may train in bf16, what bf16-mixed covers (:data:`~hybridlib.precision.BF16_MIXED_SCOPE`)."""
    values = {**config.to_dict(), "progress": None, "data_root": _data_identity(config.data_root)}
    del values["encoder_features_dir"]
    if config.precision != "fp32":
        values["bf16_mixed_scope"] = BF16_MIXED_SCOPE
    for name in ("encoder_weights", "regressor_weights", "body_model"):
        if values[name] is not None and Path(values[name]).is_file():
            values[name] = sha256_of(values[name])
    return {
        name: value
        for name, value in values.items()
        if not (name in _ADDED_FIELDS_DEFAULTS and value == _ADDED_FIELDS_DEFAULTS[name])
    }


def run_configuration(
    settings: StudySettings, spec: RunSpec, data_dir: Path, progress: bool = True
) -> tuple[pd.DataFrame, PrecisionChoice]:
    """Train (or resume, or reuse) one configuration and evaluate it: one DataFrame row, and the
    precision the run trained in."""
    config = train_config(settings, spec, data_dir, progress)
    run_dir = Path(config.out_dir)
    cached = run_dir / "evaluation.json"
    result = train(config)
    if cached.is_file():
        stored = json.loads(cached.read_text())
        if stored.get("steps") == result.steps:
            return pd.DataFrame([stored]), result.precision
    max_images = spec.max_images if spec.evaluate_on == "train" else settings.preset.eval_max_images
    evaluation = EvaluationConfig(device=settings.preset.device, max_images=max_images, progress=progress)
    row = evaluate_checkpoint(config.checkpoint_path, config=evaluation, split=spec.evaluate_on)
    row.insert(0, "configuration", spec.label)
    row.insert(1, "seed", config.seed)
    # all the run's invocations (not this one's, which may only have found it finished)
    row["train_seconds"] = round(training_seconds(read_loss_log(config.log_path)), 1)
    atomic_write_text(cached, json.dumps(row.iloc[0].to_dict(), default=str), what="evaluation cache")
    return row, result.precision


def over_seeds(specs: list[RunSpec], seeds: tuple[int, ...]) -> list[RunSpec]:
    """Every spec once per seed, seed by seed (all configurations of seed 0 first)."""
    return [replace(spec, seed=seed) for seed in seeds for spec in specs]


def run_study(settings: StudySettings, specs: list[RunSpec], data_dir: Path, progress: bool = True) -> pd.DataFrame:
    """Run every configuration on the checked ``data_dir`` (:func:`check_study_data`); copy the
    loss logs next to the results; write provenance. One row per spec (configuration × seed)."""
    started = time.perf_counter()
    losses_dir = settings.out_dir / "losses"
    losses_dir.mkdir(parents=True, exist_ok=True)
    rows, precisions = [], {}
    for spec in specs:
        row, precisions[spec.slug] = run_configuration(settings, spec, data_dir, progress)
        rows.append(row)
        log_path = Path(train_config(settings, spec, data_dir).log_path)
        atomic_write(
            losses_dir / f"{spec.slug}.csv",
            lambda handle, log_path=log_path: handle.write(log_path.read_bytes()),
            what="loss log",
        )
    table = pd.concat(rows, ignore_index=True)
    provenance = collect_provenance(
        settings, data_dir, resolve_device(settings.preset.device), time.perf_counter() - started
    )
    # this invocation may have reused finished runs: also record what training them took
    provenance["train_seconds_all_configurations"] = round(float(table["train_seconds"].sum()), 1)
    provenance["configurations"] = [
        asdict(spec) for spec in specs
    ]  # each row's settings: critic, loss weights, schedule, seed
    # the precision each run trained in, and why (hybridlib.precision)
    provenance["precision"] = {slug: choice.to_dict() for slug, choice in precisions.items()}
    atomic_write_text(
        settings.out_dir / "provenance.json", json.dumps(provenance, indent=1, default=str), what="provenance"
    )
    return table


def trivial_rows(
    settings: StudySettings, data_dir: Path, label: str, split: str = "test", max_images: int | None = None
) -> pd.DataFrame:
    """The trivial predictor (mean Θ, no image: :func:`~hybridlib.evaluation.evaluate.evaluate_trivial`)
    evaluated as the study's runs are, one identical row per seed of the study (it has no seed),
    labelled ``label`` in the ``configuration`` column."""
    evaluation = EvaluationConfig(device=settings.preset.device, max_images=max_images, progress=False)
    row = evaluate_trivial(data_dir, settings.preset.body_model, settings.preset.image_size, evaluation, split)
    row["train_seconds"] = 0.0
    return for_every_seed(row, label, settings.seeds)


def for_every_seed(row: pd.DataFrame, label: str, seeds: tuple[int, ...]) -> pd.DataFrame:
    """A row that has no seed (the trivial predictor, a pretrained checkpoint), labelled
    ``label`` and repeated once per seed, so that every trained configuration pairs with it."""
    rows = pd.concat([row] * len(seeds), ignore_index=True)
    rows.insert(0, "configuration", label)
    rows.insert(1, "seed", list(seeds))
    return rows


def loss_curves(settings: StudySettings, specs: list[RunSpec]) -> dict[str, pd.DataFrame]:
    """{configuration slug: per-step loss columns} from the copied loss logs."""
    paths = {spec.slug: settings.out_dir / "losses" / f"{spec.slug}.csv" for spec in specs}
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"no loss logs {missing} in {settings.out_dir / 'losses'}: run the study with this OUT_DIR first (its "
            "notebook, or python -m hybridlib.studies)"
        )
    return {slug: read_loss_log(path) for slug, path in paths.items()}
