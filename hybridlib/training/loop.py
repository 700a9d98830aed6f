"""One training loop for every study: epochs, checkpoints, the loss log and interruption around
the generator step (:mod:`hybridlib.training.generator_step`) and the critic step
(:mod:`hybridlib.training.critic_step`).

Per generator step, in order: forward the images; the losses; the generator update;
``critic_steps`` critic updates against fresh real bodies (:mod:`hybridlib.data.real_bodies`).
Per-step losses go to ``out_dir/losses.csv``; checkpoints (atomic) to ``out_dir/checkpoint.pt``
every ``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C finishes
the current step first). ``train(config)`` on an ``out_dir`` with a checkpoint resumes from it
and gives the same numbers as an uninterrupted run (on CPU): the data order, augmentation,
dropout and critic samples are all drawn from saved or step-derived random states. A resumed
run takes the learning rates of the configuration it is called with (a schedule may lower them
between calls).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from hybridlib.body_model import BodyModel
from hybridlib.data.folders import MOSH_FOLDER
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.folder_lock import hold_folder
from hybridlib.losses.adversarial import adversarial_losses
from hybridlib.models.forward import Networks, build_networks, resolve_device
from hybridlib.precision import PrecisionChoice, resolve_precision
from hybridlib.progress_file import ProgressFile
from hybridlib.training.batches import epoch_batches, run_loader, training_set
from hybridlib.training.checkpoint import load_checkpoint, save_checkpoint
from hybridlib.training.config import TrainConfig
from hybridlib.training.distributed import DistributedContext, init_distributed
from hybridlib.training.encoder_features import EncoderFeatureStore
from hybridlib.training.generator_step import mesh_loss_weight
from hybridlib.training.interrupt import StopOnInterrupt
from hybridlib.training.loss_log import LossLog, keep_rows_until
from hybridlib.training.optimizer import adam
from hybridlib.training.step import TrainingRun, training_step


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the loss."""


@dataclass
class TrainResult:
    """Where a run left its files, and how far it got."""

    checkpoint_path: Path
    log_path: Path
    steps: int
    seconds: float
    networks: Networks
    precision: PrecisionChoice
    encoder_features: EncoderFeatureStore | None = None


@dataclass
class _Progress:
    """How far a run is: generator steps done, the epoch and batch the next step takes, and the
    step of the last checkpoint (None before the first)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    last_saved_step: int | None = None


def _check_finite(logs: dict[str, float], progress: _Progress, checkpoint_path: Path) -> None:
    for name, value in logs.items():
        if not math.isfinite(value):
            if progress.last_saved_step is None:
                kept = "no checkpoint was written yet"
            else:
                kept = f"the last good checkpoint {checkpoint_path} (step {progress.last_saved_step}) is kept"
            raise TrainingDivergedError(
                f"step {progress.step}: {name} = {value} is not finite; training stopped, {kept}. "
                "Lower the learning rates or check the data of this step"
            )


def _networks_and_real_bodies(config: TrainConfig, device: torch.device) -> tuple[Networks, RealBodySampler | None]:
    """The networks on ``device`` and the critic's real bodies (None without a critic or a MoSh
    folder). Θ_0 starts at the mean pose and shape of the MoSh/AMASS set whenever there is one,
    so that runs with and without a critic differ only in the critic."""
    body_model = BodyModel(config.body_model).to(device)
    mocap_folder = Path(config.data_root) / MOSH_FOLDER
    sampler = None
    if config.critic != "none" or mocap_folder.is_dir():
        sampler = RealBodySampler(mocap_folder, body_model, config.seed)
    mean_pose, mean_betas = sampler.mean_body_pose_and_betas() if sampler is not None else (None, None)
    networks = build_networks(config.networks, body_model, mean_pose, mean_betas)
    networks.model.to(device)
    if config.freeze_encoder:  # no gradient into it: the step runs its forward pass only
        networks.model.encoder.requires_grad_(False)
    if networks.critic is not None:
        networks.critic.to(device)
    return networks, sampler


def _apply_precision(
    config: TrainConfig,
    state: dict[str, Any] | None,
    networks: Networks,
    device: torch.device,
    context: DistributedContext,
) -> PrecisionChoice:
    """The run's precision (a resumed run keeps its checkpoint's), printed, applied to the encoder."""
    if state is not None and state.get("precision") is not None:
        precision = PrecisionChoice(**state["precision"])
    else:
        batch_per_process = config.batch_size // context.world_size
        precision = resolve_precision(
            config.precision, device, config.backbone, config.image_size, batch_per_process, config.channels_last
        )
    if context.enabled:  # every process trains in process 0's choice (each one's probe may tip otherwise)
        shared = [precision]
        torch.distributed.broadcast_object_list(shared, src=0)
        precision = shared[0]
    if context.is_main:
        print(f"precision: {precision.reason}", flush=True)
    precision.prepare_encoder(networks.model.encoder)
    networks.precision = precision  # what predict() runs the encoder in
    return precision


def _optimizers(config: TrainConfig, networks: Networks) -> dict[str, torch.optim.Optimizer | None]:
    return {
        "optimizer_generator": adam(
            [parameter for parameter in networks.model.parameters() if parameter.requires_grad], config.lr_generator
        ),
        "optimizer_critic": None if networks.critic is None else adam(networks.critic.parameters(), config.lr_critic),
    }


def _checkpoint_state(
    config: TrainConfig,
    progress: _Progress,
    networks: Networks,
    optimizers: dict[str, torch.optim.Optimizer | None],
    sampler: RealBodySampler | None,
    precision: PrecisionChoice,
) -> dict[str, Any]:
    return {
        "step": progress.step,
        "precision": precision.to_dict(),
        "epoch": progress.epoch,
        "batch_in_epoch": progress.batch_in_epoch,
        "config": config.to_dict(),
        "model": networks.model.state_dict(),
        "critic": networks.critic.state_dict() if networks.critic is not None else None,
        **{name: optimizer.state_dict() if optimizer is not None else None for name, optimizer in optimizers.items()},
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "critic_sampler": sampler.generator.get_state() if sampler is not None else None,
        },
    }


def _restore(
    state: dict[str, Any],
    networks: Networks,
    optimizers: dict[str, torch.optim.Optimizer | None],
    sampler: RealBodySampler | None,
) -> _Progress:
    networks.model.load_state_dict(state["model"])
    if networks.critic is not None:
        networks.critic.load_state_dict(state["critic"])
        sampler.generator.set_state(state["rng"]["critic_sampler"])
    for name, optimizer in optimizers.items():
        if optimizer is not None:
            learning_rates = [group["lr"] for group in optimizer.param_groups]  # the configuration's
            optimizer.load_state_dict(state[name])
            for group, learning_rate in zip(optimizer.param_groups, learning_rates, strict=True):
                group["lr"] = learning_rate  # a run resumed with another learning rate continues with it
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available() and state["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return _Progress(state["step"], state["epoch"], state["batch_in_epoch"], last_saved_step=state["step"])


def _data_parallel(model: nn.Module, device: torch.device, context: DistributedContext) -> nn.Module:
    if not context.enabled:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def write_initial_checkpoint(config: TrainConfig, model_state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the step-0 checkpoint of the run ``config`` describes: its networks as :func:`train`
    builds them (and its precision, chosen as train chooses it), with ``model_state`` — e.g. a
    pretrained network's encoder and regressor — loaded over the model when given. :func:`train`
    then starts from it, and step 0 can be evaluated as any checkpoint. Refused when the run
    folder already holds a checkpoint."""
    if config.checkpoint_path.is_file():
        raise FileExistsError(f"{config.checkpoint_path} exists: the run has started; remove its folder to restart it")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    networks, sampler = _networks_and_real_bodies(config, device)
    if model_state is not None:
        networks.model.load_state_dict(model_state)
    precision = _apply_precision(config, None, networks, device, DistributedContext())
    optimizers = _optimizers(config, networks)
    Path(config.out_dir).mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        config.checkpoint_path, _checkpoint_state(config, _Progress(), networks, optimizers, sampler, precision)
    )
    return config.checkpoint_path


def train(config: TrainConfig, wait_for_lock: bool = False) -> TrainResult:
    """Train (or resume) as configured; returns where the checkpoint and the loss log are.
    Under torchrun, every process runs this and process 0 writes the files. The run folder is
    held while it trains (:mod:`hybridlib.folder_lock`): another process training into it is
    refused with its PID, or waited for with ``wait_for_lock=True``."""
    started = time.perf_counter()
    device = resolve_device(config.device)
    context = init_distributed(device.type == "cuda")
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    if config.batch_size % context.world_size:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {context.world_size} processes")
    with hold_folder(config.out_dir, "training", wait_for_lock) if context.is_main else nullcontext():
        return _train(config, device, context, started)


def _train(config: TrainConfig, device: torch.device, context: DistributedContext, started: float) -> TrainResult:
    torch.manual_seed(config.seed)
    dataset = training_set(config)

    networks, sampler = _networks_and_real_bodies(config, device)
    state = load_checkpoint(config.checkpoint_path, map_location=device) if config.checkpoint_path.is_file() else None
    precision = _apply_precision(config, state, networks, device, context)
    if config.compile:  # in place: the state dict keeps its keys, so checkpoints do not change
        networks.model.encoder.compile()
    adversary = adversarial_losses(config.critic)
    optimizers = _optimizers(config, networks)
    progress = _Progress()
    if state is not None:
        progress = _restore(state, networks, optimizers, sampler)
        if context.is_main:
            keep_rows_until(config.log_path, progress.step)
    model = _data_parallel(networks.model, device, context)
    encoder_features = None
    if config.freeze_encoder and config.encoder_features_dir and not context.enabled:
        encoder_features = EncoderFeatureStore(config.encoder_features_dir, networks.model.encoder, precision, device)
    run = TrainingRun(
        config, networks, model, adversary, *optimizers.values(), sampler, context, device, encoder_features
    )

    def check_finite(logs: dict[str, float]) -> None:
        _check_finite(logs, progress, config.checkpoint_path)

    def checkpoint() -> None:
        progress.last_saved_step = progress.step
        if encoder_features is not None:
            encoder_features.save()
        if context.is_main:
            save_checkpoint(
                config.checkpoint_path, _checkpoint_state(config, progress, networks, optimizers, sampler, precision)
            )

    batches_per_epoch = len(epoch_batches(dataset, config.batch_size, config.seed, 0, context))
    # checkpoints of earlier versions were written before the epoch rolled over
    if progress.batch_in_epoch >= batches_per_epoch:
        progress.epoch, progress.batch_in_epoch = progress.epoch + 1, 0
    total_steps = int(min(config.epochs * batches_per_epoch, config.max_steps or math.inf))
    log = LossLog(config.log_path) if context.is_main else None
    bar = tqdm(
        total=total_steps, initial=progress.step, desc="training", unit="step",
        disable=not (config.progress and context.is_main),
    )  # fmt: skip
    reporter = ProgressFile(Path(config.out_dir), progress.step, total_steps)
    model.train()
    if config.freeze_encoder:  # its BatchNorm statistics stay as loaded too
        networks.model.encoder.eval()
    if config.freeze_batchnorm:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    try:
        with StopOnInterrupt() as interrupt:
            loader = run_loader(dataset, config, context, progress.epoch, progress.batch_in_epoch, device)
            for batch in loader if progress.step < total_steps else ():
                w_mr = mesh_loss_weight(config, progress.step, total_steps)
                logs = training_step(run, batch.to(device, non_blocking=True), w_mr, check_finite)
                progress.step += 1
                progress.batch_in_epoch += 1
                if log is not None:
                    seconds = round(time.perf_counter() - started, 3)
                    log.write({"step": progress.step, "epoch": progress.epoch, **logs, "seconds": seconds})
                bar.update(1)
                shown = {"kpr": f"{logs['loss_kpr']:.4f}", "mr": f"{logs['loss_mr']:.1f}"}
                bar.set_postfix(shown | ({"3d": f"{logs['loss_3d']:.4f}"} if "loss_3d" in logs else {}))
                if context.is_main:
                    reporter.report(progress.step)
                # the epoch rolls over before a checkpoint: a resume starts at the next batch
                if progress.batch_in_epoch == batches_per_epoch:
                    progress.epoch, progress.batch_in_epoch = progress.epoch + 1, 0
                finished = progress.step >= total_steps or interrupt.requested
                if progress.step % config.checkpoint_every == 0 or finished:
                    checkpoint()
                if finished:
                    break
            if interrupt.requested:
                raise KeyboardInterrupt
            if progress.last_saved_step != progress.step:
                checkpoint()
    finally:
        bar.close()
        if log is not None:
            log.close()
    if context.enabled:
        torch.distributed.barrier()
    seconds = time.perf_counter() - started
    return TrainResult(
        config.checkpoint_path, config.log_path, progress.step, seconds, networks, precision, encoder_features
    )
