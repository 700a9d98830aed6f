"""One small dataclass configures a training run; its defaults are the authors' (TF2 code):
batch 8, 224 px, 3 IEF stages with the losses on the last, Adam with generator lr 1e-4 and
critic lr 5e-4, w_kpr 60, w_mr 0.001, w_critic 0.01, the KCS critic with rotation.

A loss is switched off by a zero weight: KPR only = ``w_mr=0``; MR only = ``w_kpr=0``;
no critic = ``critic="none"``; the HMR baseline = ``critic="hmr"`` (its least-squares
discriminator) with ``w_mr=0``. The loss-weight schedule the paper suggests as future work:
``w_mr_ramp_fraction=f`` raises w_mr linearly from 0 to its value over the first fraction f
of the training steps (then constant). ``w_3d > 0`` adds the generated 3D truth's supervision
(pretraining the cpu preset's encoder only: :mod:`hybridlib.studies.pretrain_encoder`).
``freeze_encoder=True`` keeps the encoder as loaded — its weights and BatchNorm statistics —
and trains the regressor (and the critic) alone: no gradient flows into the encoder, so a step
costs its forward pass only (the cpu preset, on its shared pretrained encoder).
``encoder_features_dir`` (frozen encoder only) shares that forward pass between runs: its
outputs are stored there and read back by any run that shows the same encoder the same images
(:mod:`hybridlib.training.encoder_features`); it changes no number, only the time.

``precision`` ("fp32", "bf16-mixed", "auto") is the encoder's numeric precision
(:mod:`hybridlib.precision`): the class default is the float32 baseline, the studies'
presets use "auto"; ``channels_last`` pins the encoder's memory format, which by default
bf16-mixed takes where a probe finds it faster (pin it for runs that must repeat bit for bit
on a busy machine, where the probe's timings may tip either way). ``compile=True`` compiles
the encoder with ``torch.compile`` (inductor): for long runs, where its start-up (about a
minute on a 2-core CPU) is paid back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from hybridlib.losses.weights import W_CRITIC, W_KPR, W_MR
from hybridlib.models.forward import NetworkConfig
from hybridlib.precision import PRECISIONS

CRITICS = ("none", "without_rotation", "with_rotation", "hmr")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (see the module docstring for the defaults)."""

    data_root: str  # folder with lsp/, lsp_ext/, up-s1h/, mosh/ (real or generated)
    out_dir: str  # checkpoints, losses.csv
    use_lspet: bool = False
    image_size: int = 224
    backbone: str = "resnet50"
    encoder_weights: str | None = None  # torchvision's ImageNet file or a hybridlib encoder-weights file; None = cache
    pretrained: bool = True
    regressor_weights: str | None = None  # a regressor-weights file pretrained with encoder_weights; None = fresh
    body_model: str | None = None  # None = the embedded open model
    critic: Literal["none", "without_rotation", "with_rotation", "hmr"] = "with_rotation"
    w_kpr: float = W_KPR
    w_mr: float = W_MR
    w_critic: float = W_CRITIC
    w_3d: float = 0.0  # > 0: supervise with the generated 3D truth (pretraining the encoder only)
    w_mr_ramp_fraction: float = 0.0  # > 0: w_mr rises linearly from 0 to w_mr over this fraction of the steps
    num_stages: int = 3
    loss_on_all_stages: bool = False
    dropout: float = 0.5  # in the IEF regressor
    freeze_batchnorm: bool = False  # keep the encoder's BatchNorm statistics fixed (eval mode)
    freeze_encoder: bool = False  # train the regressor (and critic) only: the encoder stays as loaded
    encoder_features_dir: str | None = None  # frozen encoder: share its outputs between runs through this folder
    batch_size: int = 8
    lr_generator: float = 1e-4
    lr_critic: float = 5e-4
    critic_steps: int = 1  # critic updates per generator step
    epochs: int = 120
    max_steps: int | None = None  # stop early after this many generator steps (smoke runs)
    max_images: int | None = None  # use only the first N training images (the overfitting study)
    augment: bool = True
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"  # "auto" = CUDA when available, else CPU
    precision: str = "fp32"  # "fp32", "bf16-mixed" or "auto" (hybridlib.precision)
    channels_last: bool | None = None  # pin the encoder's memory format; None = hybridlib.precision decides
    compile: bool = False  # torch.compile the encoder (long runs)
    checkpoint_every: int = 500  # generator steps
    progress: bool = True

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {CRITICS}, got {self.critic!r}")
        for name in ("w_kpr", "w_mr", "w_critic", "w_3d", "lr_generator", "lr_critic"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        for name in ("batch_size", "num_stages", "epochs", "checkpoint_every", "critic_steps", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not 0.0 <= self.w_mr_ramp_fraction <= 1.0:
            raise ValueError(f"w_mr_ramp_fraction must be in [0, 1], got {self.w_mr_ramp_fraction}")
        if self.w_kpr == 0 and self.w_mr == 0 and self.w_3d == 0:
            raise ValueError("w_kpr and w_mr are both 0: nothing ties the prediction to the image")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (for checkpoints loaded with weights_only=True, and CSV/JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {item.name for item in fields(cls)}
        if "amp" in values and "precision" not in values:  # checkpoints before precision: amp = bf16 on CUDA
            values = {**values, "precision": "bf16-mixed" if values["amp"] else "fp32"}
        values = {name: value for name, value in values.items() if name != "amp"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {sorted(known)}")
        return cls(**values)

    @property
    def networks(self) -> NetworkConfig:
        """The architecture part of the configuration."""
        return NetworkConfig(
            self.backbone,
            self.critic,
            self.num_stages,
            self.dropout,
            self.encoder_weights,
            self.pretrained,
            self.regressor_weights,
        )

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.out_dir) / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return Path(self.out_dir) / "losses.csv"
