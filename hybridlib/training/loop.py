"""One training loop for every study: encoder + IEF regressor trained with
L_comb = w_kpr·L_kpr + w_mr·L_mr (+ w_critic·L_adv), the critic (KCS with WGAN-GP, or HMR's
discriminator with a least-squares GAN) updated after each generator step on real poses from
the MoSh/AMASS folder.

Per generator step, in order: forward the images; body model; project; losses; generator
update; ``critic_steps`` critic updates against fresh real samples. Per-step losses go to
``out_dir/losses.csv``; checkpoints (atomic) to ``out_dir/checkpoint.pt`` every
``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C finishes the
current step first). ``train(config)`` on an ``out_dir`` with a checkpoint resumes from it and
gives the same numbers as an uninterrupted run (on CPU): the data order, augmentation, dropout
and critic samples are all drawn from saved or step-derived random states.
"""

from __future__ import annotations

import csv
import io
import math
import signal
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hybridlib.atomic_write import atomic_write_text
from hybridlib.body_model import BodyModel, BodyModelOutput
from hybridlib.data import (
    AugmentationConfig,
    Batch,
    DataConfig,
    build_dataset,
    collate_samples,
    read_mocap_folder,
    set_dataset_epoch,
)
from hybridlib.data.dataset import MOSH_FOLDER
from hybridlib.geometry import ThetaParts, split_theta, weak_perspective_projection
from hybridlib.losses import (
    keypoint_reprojection_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    mesh_reprojection_loss,
    wgan_generator_loss,
    wgan_gp_critic_loss,
)
from hybridlib.losses.silhouette import normalized_to_crop_pixels, reference_pixel_scale
from hybridlib.models import (
    BodyForCritic,
    Encoder,
    IterativeRegressor,
    MeshRegressor,
    body_for_critic,
    build_critic,
    mean_theta,
)
from hybridlib.training.checkpoint import load_checkpoint, save_checkpoint
from hybridlib.training.config import TrainConfig
from hybridlib.training.distributed import (
    DistributedContext,
    average_gradients,
    average_logs,
    global_sum,
    init_distributed,
)

LOG_COLUMNS = (
    "step",
    "epoch",
    "loss_total",
    "loss_kpr",
    "loss_mr",
    "loss_adversarial",
    "loss_critic",
    "critic_wasserstein",
    "critic_gradient_penalty",
    "seconds",
)


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the loss."""


@dataclass
class Networks:
    """The trained networks and the fixed body model."""

    model: MeshRegressor
    critic: nn.Module | None
    body_model: BodyModel


@dataclass
class TrainResult:
    """Where a run left its files, and how far it got."""

    checkpoint_path: Path
    log_path: Path
    steps: int
    seconds: float
    networks: Networks


def resolve_device(device: str) -> torch.device:
    """ "auto" → CUDA when available, else CPU; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_networks(
    config: TrainConfig, mean_body_pose: torch.Tensor | None = None, mean_betas: torch.Tensor | None = None
) -> Networks:
    """Encoder + regressor (Θ_0 from the given mean pose/shape), critic, body model, on the CPU."""
    encoder = Encoder(config.backbone, weights_path=config.encoder_weights, pretrained=config.pretrained)
    regressor = IterativeRegressor(
        encoder.feature_dim,
        mean_theta(mean_body_pose, mean_betas),
        num_stages=config.num_stages,
        dropout=config.dropout,
    )
    return Networks(
        model=MeshRegressor(encoder, regressor),
        critic=build_critic(config.critic),
        body_model=BodyModel(config.body_model),
    )


@dataclass
class Prediction:
    """Everything computed from one Θ (B,85): its parts, the body model's output, pred
    keypoints (B,14,2) normalised, vertices in crop pixels (B,V,2), and the body as the
    critic sees it."""

    parts: ThetaParts
    output: BodyModelOutput
    keypoints_2d: torch.Tensor
    vertices_px: torch.Tensor | None
    body: BodyForCritic


def predict_body(theta: torch.Tensor, body_model: BodyModel, image_size: int, with_vertices: bool = True) -> Prediction:
    """Pose and project the body model for Θ (B,85); ``with_vertices=False`` skips the mesh
    (``vertices_px`` and ``output.vertices`` are then None: runs without L_mr need no mesh)."""
    parts = split_theta(theta)
    output = body_model(parts.global_orient, parts.body_pose, parts.betas, with_vertices=with_vertices)
    keypoints_2d = weak_perspective_projection(output.keypoints_lsp, parts.camera)
    vertices_px = (
        normalized_to_crop_pixels(weak_perspective_projection(output.vertices, parts.camera), image_size)
        if output.vertices is not None
        else None
    )
    return Prediction(
        parts=parts,
        output=output,
        keypoints_2d=keypoints_2d,
        vertices_px=vertices_px,
        body=body_for_critic(output, parts.betas),
    )


class RealBodySampler:
    """Real pose/shape samples for the critic, from a MoSh/AMASS folder, drawn with a saved generator."""

    def __init__(self, folder: Path, body_model: BodyModel, seed: int) -> None:
        mocap = read_mocap_folder(folder)
        self.poses = torch.from_numpy(mocap.poses)
        self.betas = torch.from_numpy(mocap.betas)
        self.body_model = body_model
        self.generator = torch.Generator().manual_seed(seed)

    def mean_body_pose_and_betas(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean body pose (69,) and β (10,) of the set, for Θ_0."""
        return self.poses[:, 3:].mean(dim=0), self.betas.mean(dim=0)

    def sample(
        self, count: int, device: torch.device, context: DistributedContext
    ) -> tuple[BodyForCritic, torch.Tensor]:
        """This process's share of ``count`` real bodies, and of ``count`` gradient-penalty
        interpolation weights (every process draws the same global sample and takes its slice)."""
        index = torch.randint(len(self.poses), (count,), generator=self.generator)[context.rank :: context.world_size]
        mix = torch.rand(count, generator=self.generator)[context.rank :: context.world_size].to(device)
        poses, betas = self.poses[index].to(device), self.betas[index].to(device)
        with torch.no_grad():
            output = self.body_model(poses[:, :3], poses[:, 3:], betas, with_vertices=False)
        return body_for_critic(output, betas), mix


def adam(parameters: Iterable[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one pass over all parameters on CPU and CUDA: on this
    project's CPU step it is ~4x faster than the per-tensor loop), the plain one elsewhere."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except RuntimeError:  # a device without a fused kernel
        return torch.optim.Adam(parameters, lr=lr)


def mesh_loss_weight(config: TrainConfig, step: int, total_steps: int) -> float:
    """w_mr at a 0-based step: constant, or ramped linearly over ``w_mr_ramp_fraction`` of the run."""
    ramp_steps = config.w_mr_ramp_fraction * total_steps
    if ramp_steps <= 0:
        return config.w_mr
    return config.w_mr * min(1.0, (step + 1) / ramp_steps)


def generator_losses(
    config: TrainConfig,
    thetas: list[torch.Tensor],
    batch: Batch,
    networks: Networks,
    context: DistributedContext = DistributedContext(),
    w_mr: float | None = None,
) -> tuple[torch.Tensor, dict[str, float], Prediction]:
    """L_comb of the last stage (or the mean over stages), its parts (this process's share of
    the global batch's values), and the last stage's prediction. ``w_mr`` overrides the
    configured weight (the schedule's value at this step)."""
    w_mr = config.w_mr if w_mr is None else w_mr
    stages = thetas if config.loss_on_all_stages else thetas[-1:]
    total = torch.zeros((), device=batch.image.device)
    logs = {"loss_kpr": 0.0, "loss_mr": 0.0, "loss_adversarial": 0.0}
    # divisors over the global batch, per process (DDP averages the processes' gradients)
    num_coordinates = global_sum(batch.keypoints_2d[..., 2].sum() * 2, context) / context.world_size
    num_silhouettes = global_sum(batch.has_silhouette.sum().float(), context) / context.world_size
    for theta in stages:
        pred = predict_body(theta, networks.body_model, config.image_size, with_vertices=config.w_mr > 0)
        loss_kpr = keypoint_reprojection_loss(pred.keypoints_2d, batch.keypoints_2d, num_coordinates)
        loss_mr = total * 0
        if config.w_mr > 0:
            loss_mr = mesh_reprojection_loss(
                pred.vertices_px, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest, num_silhouettes
            )
            loss_mr = loss_mr * reference_pixel_scale(config.image_size)
        loss_adversarial = total * 0
        if networks.critic is not None and config.w_critic > 0:
            fake_scores = networks.critic(pred.body)
            loss_adversarial = (
                lsgan_generator_loss(fake_scores) if config.critic == "hmr" else wgan_generator_loss(fake_scores)
            )
        total = total + (config.w_kpr * loss_kpr + w_mr * loss_mr + config.w_critic * loss_adversarial) / len(stages)
        logs["loss_kpr"] += loss_kpr.item() / len(stages)
        logs["loss_mr"] += loss_mr.item() / len(stages)
        logs["loss_adversarial"] += loss_adversarial.item() / len(stages)
    logs["loss_total"] = total.item()
    return total, logs, pred


def critic_update(
    config: TrainConfig,
    networks: Networks,
    optimizer: torch.optim.Optimizer,
    real: BodyForCritic,
    fake: BodyForCritic,
    mix: torch.Tensor,
    context: DistributedContext = DistributedContext(),
) -> dict[str, float]:
    """One critic step: WGAN-GP for the KCS critic (interpolation weights ``mix``), least
    squares for HMR's discriminator; gradients averaged over processes."""
    fake = BodyForCritic(fake.joints.detach(), fake.rotations.detach(), fake.betas.detach())
    if config.critic == "hmr":
        loss = lsgan_discriminator_loss(networks.critic(real), networks.critic(fake))
        logs = {}
    else:
        loss, logs = wgan_gp_critic_loss(networks.critic, real, fake, mix=mix)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(networks.critic, context)
    optimizer.step()
    return {"loss_critic": loss.item(), **logs}


def _check_finite(step: int, logs: dict[str, float], checkpoint_path: Path, last_saved_step: int | None) -> None:
    for name, value in logs.items():
        if not math.isfinite(value):
            kept = (
                f"the last good checkpoint {checkpoint_path} (step {last_saved_step}) is kept"
                if last_saved_step is not None
                else "no checkpoint was written yet"
            )
            raise TrainingDivergedError(
                f"step {step}: {name} = {value} is not finite; training stopped, {kept}. Lower the learning rates or check the data of this step"
            )


def _epoch_batches(
    dataset: torch.utils.data.Dataset, global_batch_size: int, seed: int, epoch: int, context: DistributedContext
) -> list[list[int]]:
    """This process's share of each full batch of one epoch, in order: a DistributedSampler over
    the epoch's shuffled order (one process: the whole order), cut into batches of
    ``global_batch_size / world_size``; global batch k is the same for any number of processes."""
    sampler = torch.utils.data.DistributedSampler(
        dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    per_process = global_batch_size // context.world_size
    return [order[start : start + per_process] for start in range(0, len(order) - per_process + 1, per_process)]


class _EpochKeyedDataset(torch.utils.data.Dataset):
    """Items keyed by (epoch, index): the epoch sets the augmentation stream inside whichever
    process reads the item, so one DataLoader (one set of workers) serves the whole run."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        set_dataset_epoch(self.dataset, epoch)
        return self.dataset[index]


class _EpochBatchSampler:
    """This process's batches of (epoch, index) keys from ``start_epoch``/``start_batch`` to the last epoch."""

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        config: TrainConfig,
        context: DistributedContext,
        start_epoch: int,
        start_batch: int,
    ) -> None:
        self.dataset, self.config, self.context = dataset, config, context
        self.start_epoch, self.start_batch = start_epoch, start_batch

    def __iter__(self):
        for epoch in range(self.start_epoch, self.config.epochs):
            batches = _epoch_batches(self.dataset, self.config.batch_size, self.config.seed, epoch, self.context)
            for batch in batches[self.start_batch if epoch == self.start_epoch else 0 :]:
                yield [(epoch, index) for index in batch]


class _StopOnInterrupt:
    """Turn Ctrl-C into a request that the loop honours at the end of the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to stop at once)")

    def __exit__(self, *exc_info) -> None:  # noqa: ANN002
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _rewrite_log_until(log_path: Path, step: int) -> None:
    """Keep the CSV rows up to ``step`` (a resumed run rewrites what came after its checkpoint)."""
    if not log_path.is_file():
        return
    with open(log_path, newline="") as handle:
        # a row cut short by a kill (missing fields) is dropped with the rows after the checkpoint
        rows = [
            row
            for row in csv.DictReader(handle)
            if None not in row.values() and row["step"].isdigit() and int(row["step"]) <= step
        ]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(log_path, text.getvalue(), what="loss log")


def train(config: TrainConfig) -> TrainResult:
    """Train (or resume) as configured; returns where the checkpoint and the loss log are.
    Under torchrun, every process runs this and process 0 writes the files."""
    started = time.perf_counter()
    device = resolve_device(config.device)
    context = init_distributed(device.type == "cuda")
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    if config.batch_size % context.world_size:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {context.world_size} processes")
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    augmentation = AugmentationConfig(image_size=config.image_size, augment=config.augment)
    dataset = build_dataset(
        DataConfig(root=Path(config.data_root), use_lspet=config.use_lspet, augmentation=augmentation),
        "train",
        seed=config.seed,
    )
    if config.max_images is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(config.max_images, len(dataset))))
    if len(dataset) < config.batch_size:
        raise ValueError(
            f"{len(dataset)} training images are fewer than one batch of {config.batch_size}: lower batch_size or add data"
        )

    body_model = BodyModel(config.body_model).to(device)
    # Θ_0 starts at the mean pose and shape of the MoSh/AMASS set whenever there is one, so
    # that runs with and without a critic differ only in the critic.
    mocap_folder = Path(config.data_root) / MOSH_FOLDER
    real_sampler = (
        RealBodySampler(mocap_folder, body_model, config.seed)
        if config.critic != "none" or mocap_folder.is_dir()
        else None
    )
    mean_pose, mean_betas = real_sampler.mean_body_pose_and_betas() if real_sampler is not None else (None, None)
    networks = build_networks(config, mean_pose, mean_betas)
    networks.body_model = body_model
    networks.model.to(device)
    if networks.critic is not None:
        networks.critic.to(device)
    optimizer_generator = adam(networks.model.parameters(), config.lr_generator)
    optimizer_critic = adam(networks.critic.parameters(), config.lr_critic) if networks.critic is not None else None

    step, epoch, batch_in_epoch, last_saved_step = 0, 0, 0, None
    if config.checkpoint_path.is_file():
        state = load_checkpoint(config.checkpoint_path, map_location=device)
        networks.model.load_state_dict(state["model"])
        optimizer_generator.load_state_dict(state["optimizer_generator"])
        if networks.critic is not None:
            networks.critic.load_state_dict(state["critic"])
            optimizer_critic.load_state_dict(state["optimizer_critic"])
            real_sampler.generator.set_state(state["rng"]["critic_sampler"])
        torch.set_rng_state(state["rng"]["torch"])
        if torch.cuda.is_available() and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        step, epoch, batch_in_epoch, last_saved_step = (
            state["step"],
            state["epoch"],
            state["batch_in_epoch"],
            state["step"],
        )
        if context.is_main:
            _rewrite_log_until(config.log_path, step)

    model: nn.Module = networks.model
    if context.enabled:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def checkpoint() -> None:
        nonlocal last_saved_step
        last_saved_step = step
        if not context.is_main:
            return
        save_checkpoint(
            config.checkpoint_path,
            {
                "step": step,
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "config": config.to_dict(),
                "model": networks.model.state_dict(),
                "critic": networks.critic.state_dict() if networks.critic is not None else None,
                "optimizer_generator": optimizer_generator.state_dict(),
                "optimizer_critic": optimizer_critic.state_dict() if optimizer_critic is not None else None,
                "rng": {
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "critic_sampler": real_sampler.generator.get_state() if real_sampler is not None else None,
                },
            },
        )

    batches_per_epoch = len(_epoch_batches(dataset, config.batch_size, config.seed, 0, context))
    if batch_in_epoch >= batches_per_epoch:  # checkpoints of earlier versions, written before the epoch rolled over
        epoch, batch_in_epoch = epoch + 1, 0
    total_steps = min(config.epochs * batches_per_epoch, config.max_steps or math.inf)
    log_file = None
    if context.is_main:
        new_log = not config.log_path.is_file()
        log_file = open(config.log_path, "a", newline="")
        writer = csv.DictWriter(log_file, fieldnames=LOG_COLUMNS)
        if new_log:
            writer.writeheader()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if config.amp and device.type == "cuda" else nullcontext()
    bar = tqdm(
        total=int(total_steps),
        initial=step,
        desc="training",
        unit="step",
        disable=not (config.progress and context.is_main),
    )
    model.train()
    if config.freeze_batchnorm:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    try:
        with _StopOnInterrupt() as interrupt:
            # one DataLoader for the whole run: workers start once, not once per epoch
            loader = torch.utils.data.DataLoader(
                _EpochKeyedDataset(dataset),
                batch_sampler=_EpochBatchSampler(dataset, config, context, epoch, batch_in_epoch),
                num_workers=config.num_workers,
                collate_fn=collate_samples,
                generator=torch.Generator().manual_seed(config.seed),  # keeps the global RNG untouched
                pin_memory=device.type == "cuda",
            )
            for batch in loader if step < total_steps else ():
                batch = batch.to(device, non_blocking=True)
                with autocast:
                    thetas = model(batch.image)
                thetas = [theta.float() for theta in thetas]
                loss, logs, pred = generator_losses(
                    config, thetas, batch, networks, context, mesh_loss_weight(config, step, int(total_steps))
                )
                logs = average_logs(logs, context, device)
                _check_finite(step, logs, config.checkpoint_path, last_saved_step)
                optimizer_generator.zero_grad(set_to_none=True)
                loss.backward()
                optimizer_generator.step()
                critic_logs: dict[str, float] = {}
                if networks.critic is not None:
                    for _ in range(config.critic_steps):
                        real, mix = real_sampler.sample(config.batch_size, device, context)
                        critic_logs = critic_update(config, networks, optimizer_critic, real, pred.body, mix, context)
                    critic_logs = average_logs(critic_logs, context, device)
                    _check_finite(step, critic_logs, config.checkpoint_path, last_saved_step)
                step += 1
                batch_in_epoch += 1
                if log_file is not None:
                    writer.writerow(
                        {
                            "step": step,
                            "epoch": epoch,
                            **logs,
                            **critic_logs,
                            "seconds": round(time.perf_counter() - started, 3),
                        }
                    )
                    log_file.flush()
                bar.update(1)
                bar.set_postfix(kpr=f"{logs['loss_kpr']:.4f}", mr=f"{logs['loss_mr']:.1f}")
                if batch_in_epoch == batches_per_epoch:  # before a checkpoint: a resume starts at the next batch
                    epoch, batch_in_epoch = epoch + 1, 0
                if step % config.checkpoint_every == 0 or step >= total_steps or interrupt.requested:
                    checkpoint()
                if step >= total_steps or interrupt.requested:
                    break
            if interrupt.requested:
                raise KeyboardInterrupt
            if last_saved_step != step:
                checkpoint()
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
    if context.enabled:
        torch.distributed.barrier()
    return TrainResult(config.checkpoint_path, config.log_path, step, time.perf_counter() - started, networks)


def read_loss_log(path: str | Path) -> dict[str, np.ndarray]:
    """The per-step CSV as {column: array} (empty cells → NaN)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        column: np.array([float(row[column]) if row[column] not in ("", None) else np.nan for row in rows])
        for column in LOG_COLUMNS
    }
