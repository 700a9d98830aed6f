"""Named presets for the studies, in one place, and the validation of notebook parameters.

- ``smoke``: CI — a tiny generated dataset, the lite body model, a few steps, 2 seeds; each
  notebook runs in about 2 minutes on 2 cores.
- ``demo``: what ``make demo`` runs — small but real training on generated data, 1 seed, minutes.
- ``cpu``: a real, reduced study on this kind of machine — ResNet-18 at 128 px on the full
  generated LSP / LSPET-format set, 5 epochs (Table 1) and 1 epoch (Table 2) instead of 120,
  3 seeds (the wall time of each study is in its ``provenance.json``). Every run starts from one
  shared network — encoder and IEF regressor — pretrained on generated images with 3D truth
  (:data:`PRETRAINED_ENCODER`, :data:`PRETRAINED_REGRESSOR`, committed;
  :mod:`hybridlib.studies.pretrain_encoder`) where the paper starts from an ImageNet encoder and
  a fresh regressor. Table 1 and Table 2 keep that encoder frozen and train the regressor (and
  the critic) on it (``freeze_encoder``: a step costs the encoder's forward pass only); the
  8-image study trains the whole network, as its question is how well each loss fits 8 images.
- ``paper``: the authors' settings — ResNet-50, 224 px, batch 8, 120 epochs, the full body
  model; meant for a GPU and for real data (DATA_DIR).

A run's data, body model and hyper-parameters come from its preset plus the notebook's
explicit parameters (DATA_DIR, BODY_MODEL, EPOCHS, DEVICE, PRECISION, SEEDS, OUT_DIR), nothing
else. Every configuration of a study is trained once per seed of SEEDS (the preset's by default:
three at the cpu preset), and its findings are tested over them (:mod:`hybridlib.evaluation.verdicts`).
Generated data and default OUT_DIRs live under the workspace folder of :mod:`hybridlib.paths`
(``HYBRIDLIB_HOME``; by default the checkout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from hybridlib.body_model import OPEN_BODY_MODEL, OPEN_BODY_MODEL_LITE
from hybridlib.models.regressor import regressor_weights_path
from hybridlib.paths import data_root, results_root
from hybridlib.precision import PRECISIONS


@dataclass(frozen=True)
class GeneratedData:
    """Sizes of the generated stand-in used when DATA_DIR is not given."""

    lsp: int
    lspet: int
    mosh: int
    seed: int = 0

    @property
    def folder_name(self) -> str:
        return f"generated-lsp{self.lsp}-lspet{self.lspet}-mosh{self.mosh}-seed{self.seed}"


# The cpu preset's shared starting point: resnet18 and the IEF regressor pretrained with it on
# generated images with 3D truth (python -m hybridlib.studies.pretrain_encoder; provenance in the
# .json beside the encoder).
PRETRAINED_ENCODER = Path(__file__).resolve().parents[1] / "assets" / "encoder_resnet18_128px_generated_3d.pt"
PRETRAINED_REGRESSOR = regressor_weights_path(PRETRAINED_ENCODER)


@dataclass(frozen=True)
class Preset:
    """Everything a study run takes from its preset (see the module docstring)."""

    name: str
    generated_data: GeneratedData
    body_model: str  # path of the body model file
    backbone: str
    image_size: int
    batch_size: int
    epochs_lsp: int  # Table 1 runs
    epochs_lspet: int  # Table 2 runs (LSP + LSP extended)
    overfit_steps: int  # the 8-image study
    seeds: tuple[int, ...]  # every configuration of every study is trained once per seed
    max_steps: int | None = None  # cap on every Table run (smoke)
    eval_max_images: int | None = None
    num_workers: int = 0
    pretrained: bool = True
    encoder_weights: str | None = None  # the encoder's starting weights; None = torchvision's ImageNet cache
    regressor_weights: str | None = None  # the regressor's, pretrained with that encoder; None = fresh from Θ_0
    freeze_encoder: bool = False  # True: the runs train the regressor (and critic) on the encoder as loaded
    device: str = "auto"
    precision: str = "auto"  # "fp32", "bf16-mixed" or "auto" (bf16 where it is native and faster)
    checkpoint_every: int = 500


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="smoke", generated_data=GeneratedData(lsp=16, lspet=16, mosh=200),
            body_model=str(OPEN_BODY_MODEL_LITE), backbone="resnet18", image_size=64, batch_size=4,
            epochs_lsp=1, epochs_lspet=1, overfit_steps=12, seeds=(0, 1),
            max_steps=3, eval_max_images=8, pretrained=False,
        ),
        Preset(
            name="demo", generated_data=GeneratedData(lsp=200, lspet=400, mosh=2000),
            body_model=str(OPEN_BODY_MODEL), backbone="resnet18", image_size=96, batch_size=8,
            epochs_lsp=2, epochs_lspet=1, overfit_steps=60, seeds=(0,),
            eval_max_images=100, pretrained=False,
        ),
        Preset(
            name="cpu", generated_data=GeneratedData(lsp=2000, lspet=10000, mosh=20000),
            body_model=str(OPEN_BODY_MODEL), backbone="resnet18", image_size=128, batch_size=8,
            epochs_lsp=5, epochs_lspet=1, overfit_steps=200, seeds=(0, 1, 2),
            num_workers=1, encoder_weights=str(PRETRAINED_ENCODER), regressor_weights=str(PRETRAINED_REGRESSOR),
            freeze_encoder=True,
        ),
        Preset(
            name="paper", generated_data=GeneratedData(lsp=2000, lspet=10000, mosh=20000),
            body_model=str(OPEN_BODY_MODEL), backbone="resnet50", image_size=224, batch_size=8,
            epochs_lsp=120, epochs_lspet=120, overfit_steps=2000, seeds=(0, 1, 2),
            num_workers=4,
        ),
    )
}  # fmt: skip


class ParameterError(ValueError):
    """A notebook parameter that is unknown, of the wrong type or pointing nowhere; the message
    lists the valid choices."""


@dataclass(frozen=True)
class StudySettings:
    """The resolved settings of one study run: its preset (with overrides applied) and where
    data and results live."""

    study: str
    preset: Preset
    data_dir: Path | None  # None = generate the preset's stand-in: generated_data_dir(preset.generated_data)
    out_dir: Path
    seeds: tuple[int, ...]
    parameters: dict = field(default_factory=dict)


def generated_data_dir(data: GeneratedData) -> Path:
    """Where the generated stand-in of these sizes lives: ``<workspace>/data/<folder_name>``."""
    return data_root() / data.folder_name


def _expect(name: str, value: object, types: tuple[type, ...], description: str) -> None:
    if value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
        raise ParameterError(f"{name} must be {description}, got {value!r} ({type(value).__name__})")


def default_out_dir(study: str, preset: str) -> Path:
    """Where a study's table, figures and provenance go unless OUT_DIR says otherwise:
    ``<workspace>/results/<study>/<preset>``."""
    return results_root() / study / preset


def _check_writable(out_dir: Path) -> None:
    """OUT_DIR must be a folder this process can create and write in — checked on its nearest
    existing ancestor without creating anything, so that a study fails in its first cell and
    not after hours of training."""
    existing = out_dir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = f"{existing} is not a folder" if not existing.is_dir() else f"{existing} is not writable"
        raise ParameterError(
            f"OUT_DIR {out_dir} is not a writable folder ({reason}): give a folder you can write to, or None for "
            "results/<study>/<preset>/"
        )


def _seeds(value: object, preset: Preset) -> tuple[int, ...]:
    """SEEDS as a tuple of distinct ints (see :func:`resolve_settings`)."""
    if value is None:
        return preset.seeds
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ParameterError(f"SEEDS must be ≥ 1 when an int (the number of seeds 0 … N−1), got {value}")
        return tuple(range(value))
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in value)
    ):
        raise ParameterError(
            f"SEEDS must be a non-empty list of ints (e.g. [0, 1, 2]), an int N (seeds 0 … N−1) or None (the "
            f"preset's {list(preset.seeds)}), got {value!r}"
        )
    if len(set(value)) != len(value):
        raise ParameterError(f"SEEDS must not repeat a seed, got {list(value)}")
    return tuple(value)


def resolve_settings(
    study: str,
    PRESET: str = "smoke",  # noqa: N803 (the notebooks' UPPER_CASE parameter names)
    DATA_DIR: str | None = None,  # noqa: N803
    BODY_MODEL: str | None = None,  # noqa: N803
    EPOCHS: int | None = None,  # noqa: N803
    DEVICE: str | None = None,  # noqa: N803
    SEEDS: int | list[int] | tuple[int, ...] | None = None,  # noqa: N803
    OUT_DIR: str | None = None,  # noqa: N803
    PRECISION: str | None = None,  # noqa: N803
) -> StudySettings:
    """Validate a notebook's parameters and combine them with the preset. SEEDS: a list of seeds,
    an int N (seeds 0 … N−1) or None (the preset's)."""
    if not isinstance(PRESET, str) or PRESET not in PRESETS:
        raise ParameterError(f"PRESET must be one of {sorted(PRESETS)}, got {PRESET!r}")
    _expect("DATA_DIR", DATA_DIR, (str, Path), "a folder path (str) or None")
    _expect("BODY_MODEL", BODY_MODEL, (str, Path), "a body model file path (str) or None")
    _expect("EPOCHS", EPOCHS, (int,), "a positive int or None")
    _expect("DEVICE", DEVICE, (str,), "'auto', 'cpu', 'cuda' or 'cuda:N', or None")
    _expect("OUT_DIR", OUT_DIR, (str, Path), "a folder path (str) or None")
    _expect("PRECISION", PRECISION, (str,), f"one of {PRECISIONS} or None")
    preset = PRESETS[PRESET]
    if EPOCHS is not None:
        if EPOCHS < 1:
            raise ParameterError(f"EPOCHS must be ≥ 1, got {EPOCHS}")
        preset = replace(preset, epochs_lsp=EPOCHS, epochs_lspet=EPOCHS)
    if BODY_MODEL is not None:
        if not Path(BODY_MODEL).exists():
            raise ParameterError(
                f"BODY_MODEL {BODY_MODEL} does not exist: give a licensed SMPL .pkl (or folder), an SMPL-layout "
                ".npz, or None for the open model"
            )
        preset = replace(preset, body_model=str(BODY_MODEL))
    if DEVICE is not None:
        if not (DEVICE in ("auto", "cpu", "cuda") or DEVICE.startswith("cuda:")):
            raise ParameterError(f"DEVICE must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {DEVICE!r}")
        preset = replace(preset, device=DEVICE)
    if PRECISION is not None:
        if PRECISION not in PRECISIONS:
            raise ParameterError(f"PRECISION must be one of {PRECISIONS} or None (the preset's), got {PRECISION!r}")
        preset = replace(preset, precision=PRECISION)
    data_dir = None
    if DATA_DIR is not None:
        data_dir = Path(DATA_DIR).expanduser()
        if not data_dir.is_dir():
            raise ParameterError(
                f"DATA_DIR {data_dir} is not a folder: point it at the folder holding lsp/, lsp_ext/, up-s1h/, "
                "mosh/, or leave it None to use generated data"
            )
    for part, weights in (("encoder", preset.encoder_weights), ("regressor", preset.regressor_weights)):
        if weights is not None and not Path(weights).is_file():
            raise ParameterError(
                f"the {PRESET} preset starts every run from the {part} {weights}, which is missing: "
                "restore it from git (git checkout -- hybridlib/assets) or rebuild it with make pretrained-encoder"
            )
    seeds = _seeds(SEEDS, preset)
    out_dir = Path(OUT_DIR) if OUT_DIR is not None else default_out_dir(study, PRESET)
    _check_writable(out_dir)
    parameters = {
        "PRESET": PRESET,
        "DATA_DIR": DATA_DIR,
        "BODY_MODEL": BODY_MODEL,
        "EPOCHS": EPOCHS,
        "DEVICE": DEVICE,
        "SEEDS": list(seeds),
        "OUT_DIR": str(out_dir),
        "PRECISION": PRECISION,
    }
    return StudySettings(
        study=study, preset=preset, data_dir=data_dir, out_dir=out_dir, seeds=seeds, parameters=parameters
    )
