"""Train-step time next to the bare encoder, and L_mr fast vs dense, measured in one run.

    .venv/bin/python -m benchmarks.training_step --data DIR [--repeats 5] [--threads N]

DIR is a generated (or real) data folder with lsp/, lsp_ext/, up-s1h/ and mosh/. Prints, per
configuration (ResNet-50 at 224 px — the paper's — and the CPU preset's ResNet-18 at 128 px),
the median time of: the bare encoder forward+backward at batch 8, and a full training step
(encoder, IEF, body model, L_kpr + L_mr + KCS critic with WGAN-GP) at batch 8, and their
ratio. Then L_mr on one batch of 8 generated samples with the full open body model: fast
path vs the dense all-pairs reference, time and relative value difference.
"""

from __future__ import annotations

import argparse
import functools
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.timing import median_seconds
from hybridlib.body_model import BodyModel
from hybridlib.data import AugmentationConfig, Batch, DataConfig, build_dataset, collate_samples
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.geometry import normalized_to_pixels, weak_perspective_projection
from hybridlib.losses import mesh_reprojection_loss, mesh_reprojection_loss_dense
from hybridlib.losses.adversarial import adversarial_losses
from hybridlib.machine import machine_description
from hybridlib.models import Encoder
from hybridlib.models.forward import build_networks, predict_body
from hybridlib.precision import FP32, PrecisionChoice, resolve_precision
from hybridlib.training import TrainConfig
from hybridlib.training.critic_step import critic_update
from hybridlib.training.distributed import DistributedContext
from hybridlib.training.generator_step import generator_losses
from hybridlib.training.optimizer import adam
from hybridlib.training.step import TrainingRun, training_step


@dataclass
class _StepSetup:
    run: TrainingRun  # what hybridlib.training.step.training_step works with
    batch: Batch
    encoder: Encoder  # a bare encoder of the same architecture, memory format and precision: the floor


CPU = torch.device("cpu")


def _setup(
    data: Path, backbone: str, image_size: int, batch_size: int, precision: str = "fp32", device: torch.device = CPU
) -> _StepSetup:
    with tempfile.TemporaryDirectory() as out_dir:
        config = TrainConfig(
            data_root=str(data),
            out_dir=out_dir,
            backbone=backbone,
            image_size=image_size,
            batch_size=batch_size,
            pretrained=False,
            progress=False,
            precision=precision,
            device=str(device),
        )
    dataset = build_dataset(DataConfig(root=data, augmentation=AugmentationConfig(image_size=image_size)), "train")
    batch = collate_samples([dataset[index] for index in range(config.batch_size)]).to(device)
    body_model = BodyModel()
    sampler = RealBodySampler(data / "mosh", body_model, seed=0)
    networks = build_networks(config.networks, body_model, *sampler.mean_body_pose_and_betas())
    for module in (networks.model, networks.critic, networks.body_model):
        module.to(device)
    choice = resolve_precision(precision, device, backbone, image_size, batch_size)
    encoder = Encoder(backbone, pretrained=False).to(device)
    choice.prepare_encoder(networks.model.encoder)
    networks.precision = choice  # what the step runs the critic in
    choice.prepare_encoder(encoder)
    run = TrainingRun(
        config,
        networks,
        networks.model,
        adversarial_losses(config.critic),
        adam(networks.model.parameters(), config.lr_generator),
        adam(networks.critic.parameters(), config.lr_critic),
        sampler,
        DistributedContext(),
        device,
    )
    return _StepSetup(run, batch, encoder)


def _training_step(setup: _StepSetup) -> None:
    training_step(setup.run, setup.batch, setup.run.config.w_mr)


def _encoder_only(setup: _StepSetup) -> None:
    precision = setup.run.networks.precision
    images = precision.prepare_images(setup.batch.image)
    setup.encoder.zero_grad(set_to_none=True)
    with precision.autocast(setup.run.device):
        features = setup.encoder(images)
    features.float().sum().backward()


def step_times(
    data: Path, backbone: str, image_size: int, repeats: int, batch_size: int = 8, device: torch.device = CPU
) -> tuple[float, float]:
    """(bare encoder forward+backward, full training step), seconds at ``batch_size``, timed in
    alternation."""
    setup = _setup(data, backbone, image_size, batch_size, device=device)
    return median_seconds(lambda: _encoder_only(setup), lambda: _training_step(setup), repeats=repeats, device=device)


def precision_step_times(
    data: Path, backbone: str, image_size: int, repeats: int, batch_size: int = 8, device: torch.device = CPU
) -> dict[str, tuple[float, float, PrecisionChoice, float]]:
    """{precision: (bare encoder seconds, full training step seconds, its PrecisionChoice, peak
    CUDA MiB of its steps or nan on a CPU)} for "fp32" and "bf16-mixed", all four timed in one
    alternation: the encoder and the step each in that precision and memory format."""
    setups = {name: _setup(data, backbone, image_size, batch_size, name, device) for name in ("fp32", "bf16-mixed")}
    functions = []
    for setup in setups.values():
        functions += [functools.partial(_encoder_only, setup), functools.partial(_training_step, setup)]
    seconds = median_seconds(*functions, repeats=repeats, device=device)
    peak_mib = {name: _peak_cuda_mib(setup, device) for name, setup in setups.items()}
    return {
        name: (seconds[2 * index], seconds[2 * index + 1], setup.run.networks.precision, peak_mib[name])
        for index, (name, setup) in enumerate(setups.items())
    }


def _peak_cuda_mib(setup: _StepSetup, device: torch.device) -> float:
    """Peak CUDA memory (MiB) allocated during two training steps of ``setup``; nan on a CPU."""
    if device.type != "cuda":
        return math.nan
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2):
        _training_step(setup)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def step_parts(
    data: Path,
    backbone: str,
    image_size: int,
    repeats: int,
    batch_size: int = 8,
    device: torch.device = CPU,
    precision: str = "fp32",
) -> dict[str, float]:
    """Seconds of each part of one training step in ``precision`` (the encoder, regressor and
    critic under its autocast, as the step runs them), measured alone on the same batch: where
    the overhead over the encoder goes. The last entry is what the parts leave unexplained."""
    setup = _setup(data, backbone, image_size, batch_size, precision, device)
    timed = functools.partial(median_seconds, repeats=repeats, device=device)
    config, batch, networks = setup.run.config, setup.batch, setup.run.networks
    choice = networks.precision
    with torch.no_grad():
        with choice.autocast(device):
            features = networks.model.encoder(choice.prepare_images(batch.image))
            theta = networks.model.regressor(features)[-1]
        prediction = predict_body(theta, networks.body_model, image_size)
    vertices_px = prediction.vertices_px.clone().requires_grad_(True)
    real, mix = setup.run.sampler.sample(config.batch_size, batch.image.device)

    def regressor() -> None:
        networks.model.regressor.zero_grad(set_to_none=True)
        with choice.autocast(device):
            stages = networks.model.regressor(features)
        sum(stage.sum() for stage in stages).backward()

    def body_model() -> None:
        posed = predict_body(theta.clone().requires_grad_(True), networks.body_model, image_size)
        (posed.keypoints_2d.sum() + posed.vertices_px.sum()).backward()

    def mesh_loss() -> None:
        mesh_reprojection_loss(vertices_px, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest).backward()

    for parameter in networks.model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    parts = {
        "encoder fwd+bwd": timed(lambda: _encoder_only(setup))[0],
        "IEF regressor fwd+bwd (3 stages)": timed(regressor)[0],
        "body model + projection fwd+bwd": timed(body_model)[0],
        "L_mr fast, value + gradient": timed(mesh_loss)[0],
        "Adam step (encoder + regressor)": timed(setup.run.optimizer_generator.step)[0],
        "critic step (real bodies, WGAN-GP)": timed(
            lambda: critic_update(networks, setup.run.adversary, setup.run.optimizer_critic, real, prediction.body, mix)
        )[0],
        "full training step": timed(lambda: _training_step(setup))[0],
    }
    parts["full step - the parts above"] = 2 * parts["full training step"] - sum(parts.values())
    return parts


def mixed_precision_loss_difference(data: Path, backbone: str, image_size: int, device: torch.device) -> float:
    """max |AMP / fp32 − 1| over L_kpr, L_mr and the adversarial loss of one training batch of 8:
    the networks under bfloat16 autocast (as ``precision="bf16-mixed"`` runs them: encoder,
    regressor and critic in bf16, the body model and the losses in float32) against float32, the
    same weights and dropout masks. Loss values only, not gradients."""
    setup = _setup(data, backbone, image_size, 8, device=device)
    networks, batch = setup.run.networks, setup.batch
    losses = []
    for precision in (FP32, PrecisionChoice("bf16-mixed", False, "bf16-mixed")):
        networks.precision = precision  # generator_losses runs the critic in it
        torch.manual_seed(0)
        with torch.no_grad():
            with precision.autocast(device):
                thetas = networks.model(batch.image)
            _, logs, _ = generator_losses(setup.run.config, thetas, batch, networks, setup.run.adversary)
        losses.append(logs)
    fp32, mixed = losses
    return max(abs(mixed[name] / fp32[name] - 1.0) for name in ("loss_kpr", "loss_mr", "loss_adversarial"))


def mesh_loss_times(data: Path, repeats: int) -> tuple[float, float, float]:
    """(fast seconds, dense seconds, relative value difference) of L_mr on 8 generated samples."""
    dataset = build_dataset(DataConfig(root=data), "train")
    batch = collate_samples([dataset[index] for index in range(8)])
    body_model = BodyModel()
    with torch.no_grad():
        output = body_model(batch.pose[:, :3], batch.pose[:, 3:], batch.betas)
    camera = batch.camera + torch.tensor([0.0, 0.04, -0.03])  # a prediction slightly off
    points = normalized_to_pixels(weak_perspective_projection(output.vertices, camera), 224).requires_grad_(True)

    def fast() -> torch.Tensor:
        value = mesh_reprojection_loss(points, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest)
        value.backward()
        return value

    def dense() -> torch.Tensor:
        value = mesh_reprojection_loss_dense(points, batch.silhouette, batch.has_silhouette)
        value.backward()
        return value

    difference = abs(fast().item() / dense().item() - 1.0)
    return median_seconds(fast, repeats=repeats)[0], median_seconds(dense, repeats=max(1, repeats // 2))[0], difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine_description()}")
    for backbone, image_size in (("resnet50", 224), ("resnet18", 128)):
        encoder_seconds, step_seconds = step_times(args.data, backbone, image_size, args.repeats)
        print(
            f"{backbone} {image_size} px, batch 8: encoder fwd+bwd {encoder_seconds * 1000:.0f} ms, "
            f"full train step {step_seconds * 1000:.0f} ms, step / encoder {step_seconds / encoder_seconds:.2f}x"
        )
    fast_seconds, dense_seconds, difference = mesh_loss_times(args.data, args.repeats)
    print(
        f"L_mr on 8 samples (full body model, 224 px), value+gradient: fast {fast_seconds * 1000:.0f} ms, "
        f"dense {dense_seconds * 1000:.0f} ms, dense / fast {dense_seconds / fast_seconds:.0f}x, "
        f"value difference {difference:.2e}"
    )


if __name__ == "__main__":
    main()
