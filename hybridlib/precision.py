"""The numeric precision a run trains in, and the encoder's memory format.

- ``"fp32"``: float32 everywhere (what SPIN-style trainers run).
- ``"bf16-mixed"``: the encoder, the IEF regressor and the critic under ``torch.autocast``
  with bfloat16 (their convolutions and matmuls in bf16, their weights and optimiser state
  float32); Θ summed over the IEF stages in float32 and the critic's scores returned in float32;
  the body model, the projection and every loss in float32 (they run outside autocast).
- ``"auto"``: bf16-mixed where the device runs bf16 natively and faster, else fp32:
  CUDA with bf16 support (``torch.cuda.is_bf16_supported()``); a CPU with AMX-BF16 or
  AVX512-BF16 when a short probe — the run's encoder, forward + backward at its batch and image
  size, a few calls of each variant in alternation — finds bf16 at least
  :data:`AUTO_MIN_SPEEDUP` × faster than float32. Anything else: fp32.

In bf16-mixed the encoder runs channels_last where the probe finds it faster (on CUDA, always:
cuDNN's bf16 convolutions prefer it); fp32 is the eager float32 baseline, contiguous, no probe.
``TrainConfig.channels_last`` True / False pins the memory format instead (the probe's timings
on a busy machine may tip either way). Under torchrun every process takes process 0's choice.
The choice and its reason are printed by the loop and saved in the checkpoint
(``state["precision"]``), so a resumed run keeps them, and prediction and evaluation run in it
unless told otherwise (:func:`inference_precision`).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from functools import cache
from typing import Literal

import torch

from hybridlib.machine import cpu_flags

PRECISIONS = ("fp32", "bf16-mixed", "auto")
# What bf16-mixed runs under autocast. Until 945ab71 it was the encoder alone; the studies name it
# in the fingerprint of every run that may train in bf16, so they never reuse or resume a run of
# another scope.
BF16_MIXED_SCOPE = "encoder, regressor, critic"
AUTO_MIN_SPEEDUP = 1.15  # bf16 must beat float32 by this much for "auto" to take it on a CPU
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    """What a run trains in: ``precision`` "fp32" or "bf16-mixed", ``channels_last`` for the
    encoder, and why (one sentence, with the probe's timings when there was one)."""

    precision: Literal["fp32", "bf16-mixed"]
    channels_last: bool
    reason: str

    def autocast(self, device: torch.device) -> AbstractContextManager:
        """The context the networks (encoder, regressor, critic) run in."""
        if self.precision == "bf16-mixed":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare_encoder(self, encoder: torch.nn.Module) -> torch.nn.Module:
        """The encoder in this choice's memory format (in place)."""
        return encoder.to(memory_format=self.memory_format)

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B,3,S,S) in this choice's memory format."""
        return images.contiguous(memory_format=self.memory_format)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


FP32 = PrecisionChoice("fp32", False, "fp32")
INFERENCE_PRECISIONS = ("fp32", "bf16-mixed")


def inference_precision(saved: dict[str, object] | None, requested: str | None = None) -> PrecisionChoice:
    """The precision a trained model predicts in: ``requested`` ("fp32" or "bf16-mixed") when
    given, else the one it trained in (``saved``: a checkpoint's ``state["precision"]``; fp32
    for checkpoints written before precision was saved)."""
    trained = PrecisionChoice(**saved) if saved else FP32  # type: ignore[arg-type]
    if requested is None or requested == trained.precision:
        return trained
    if requested not in INFERENCE_PRECISIONS:
        raise ValueError(
            f"precision must be one of {INFERENCE_PRECISIONS} or None (the checkpoint's), got {requested!r}"
        )
    if requested == "fp32":
        return PrecisionChoice("fp32", False, f"fp32 (asked; trained in {trained.precision})")
    return PrecisionChoice("bf16-mixed", trained.channels_last, f"bf16-mixed (asked; trained in {trained.precision})")


def cpu_bf16_flags() -> list[str]:
    """The CPU's bf16 flags (AMX-BF16, AVX512-BF16) from ``/proc/cpuinfo``; [] where it is unknown."""
    flags = set(cpu_flags())
    return [flag for flag in _BF16_CPU_FLAGS if flag in flags]


def _encoder_milliseconds(backbone: str, image_size: int, batch_size: int, device: torch.device) -> dict[str, float]:
    """Median ms of the encoder's forward + backward in each variant, timed in alternation."""
    from hybridlib.models.encoder import Encoder  # here: hybridlib.models imports this module

    encoder = Encoder(backbone, pretrained=False).to(device)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device)
    variants = [
        PrecisionChoice(precision, channels_last, "")  # type: ignore[arg-type]
        for precision in ("fp32", "bf16-mixed")
        for channels_last in (False, True)
    ]

    def run(variant: PrecisionChoice) -> None:
        variant.prepare_encoder(encoder)
        with variant.autocast(device):
            features = encoder(variant.prepare_images(images))
        features.float().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    timings: dict[PrecisionChoice, list[float]] = {variant: [] for variant in variants}
    for variant in variants:  # warm-up
        run(variant)
    for _ in range(3):
        for variant in variants:
            started = time.perf_counter()
            run(variant)
            timings[variant].append(time.perf_counter() - started)
    return {
        variant.precision + (" channels_last" if variant.channels_last else ""): 1e3 * sorted(seconds)[1]
        for variant, seconds in timings.items()
    }


@cache
def _probe(backbone: str, image_size: int, batch_size: int, device_type: str) -> dict[str, float]:
    with torch.random.fork_rng(devices=[]):  # the run's random state is left as it was
        return _encoder_milliseconds(backbone, image_size, batch_size, torch.device(device_type))


def resolve_precision(
    precision: str,
    device: torch.device,
    backbone: str,
    image_size: int,
    batch_size: int,
    channels_last: bool | None = None,
) -> PrecisionChoice:
    """The precision and memory format a run of ``backbone`` at ``image_size`` px and
    ``batch_size`` trains in on ``device`` (see the module docstring); ``channels_last``
    True / False pins the encoder's memory format (None: as the module docstring says)."""
    choice = _resolve(precision, device, backbone, image_size, batch_size, probe_layout=channels_last is None)
    if channels_last is None or channels_last == choice.channels_last:
        return choice
    layout = "channels_last" if channels_last else "contiguous"
    return PrecisionChoice(choice.precision, channels_last, f"{choice.reason}; {layout} as configured")


def _resolve(
    precision: str, device: torch.device, backbone: str, image_size: int, batch_size: int, probe_layout: bool
) -> PrecisionChoice:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":  # the float32 eager baseline: no probe, contiguous images
        return PrecisionChoice("fp32", False, "fp32 (as configured)")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16-mixed", True, f"bf16-mixed ({precision}: {name} runs bf16)")
        if precision == "bf16-mixed":
            raise ValueError(f"precision 'bf16-mixed': {name} has no bf16 support; use 'fp32' or 'auto'")
        return PrecisionChoice("fp32", False, f"fp32 (auto: {name} has no bf16)")
    flags = cpu_bf16_flags()
    if precision == "auto" and not flags:
        return PrecisionChoice("fp32", False, "fp32 (auto: this CPU has neither AMX-BF16 nor AVX512-BF16)")
    if precision == "bf16-mixed" and not probe_layout:  # nothing left for the probe to decide
        return PrecisionChoice("bf16-mixed", False, "bf16-mixed (as configured)")
    timings = _probe(backbone, image_size, batch_size, device.type)
    speedup = min(timings["fp32"], timings["fp32 channels_last"]) / min(
        timings["bf16-mixed"], timings["bf16-mixed channels_last"]
    )
    if precision == "auto" and speedup < AUTO_MIN_SPEEDUP:
        chosen, why = "fp32", f"auto: bf16 is {speedup:.2f}x fp32 here, < {AUTO_MIN_SPEEDUP}"
    else:
        chosen, why = "bf16-mixed", f"{precision}: bf16 is {speedup:.2f}x fp32 here"
    channels_last = chosen == "bf16-mixed" and timings["bf16-mixed channels_last"] < timings["bf16-mixed"]
    measured = ", ".join(f"{variant} {ms:.0f} ms" for variant, ms in timings.items())
    probe = f"encoder fwd+bwd, {backbone} {image_size} px, batch {batch_size}, CPU {'+'.join(flags) or 'no bf16 flags'}"
    return PrecisionChoice(chosen, channels_last, f"{chosen} ({why}; {probe}: {measured})")  # type: ignore[arg-type]
