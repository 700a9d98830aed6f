"""One training step: the generator update (encoder, regressor and critic in the run's
precision, the body model and the losses of :mod:`~hybridlib.training.generator_step` in
float32), then ``critic_steps`` critic updates (:mod:`~hybridlib.training.critic_step`) against
fresh real bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hybridlib.data import Batch
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.losses.adversarial import AdversarialLosses
from hybridlib.models.forward import Networks
from hybridlib.training.config import TrainConfig
from hybridlib.training.critic_step import critic_update
from hybridlib.training.distributed import DistributedContext, average_logs
from hybridlib.training.encoder_features import EncoderFeatureStore
from hybridlib.training.generator_step import generator_losses


@dataclass
class TrainingRun:
    """What a training step works with. ``model`` is ``networks.model``, or its
    DistributedDataParallel wrapper under torchrun; ``encoder_features`` the frozen encoder's
    stored outputs (None: the encoder runs at every step)."""

    config: TrainConfig
    networks: Networks
    model: nn.Module
    adversary: AdversarialLosses | None
    optimizer_generator: torch.optim.Optimizer
    optimizer_critic: torch.optim.Optimizer | None
    sampler: RealBodySampler | None
    context: DistributedContext
    device: torch.device
    encoder_features: EncoderFeatureStore | None = None


def training_step(
    run: TrainingRun, batch: Batch, w_mr: float, check: Callable[[dict[str, float]], None] = lambda logs: None
) -> dict[str, float]:
    """One generator update, then the critic updates; returns the step's losses (averaged over
    processes). ``check`` sees the generator's losses before its update and the critic's after
    theirs (the loop stops a run on a non-finite loss there)."""
    config, networks, context = run.config, run.networks, run.context
    precision = networks.precision
    images = precision.prepare_images(batch.image)
    with precision.autocast(run.device):  # encoder and regressor; Θ comes out float32
        if run.encoder_features is None:
            thetas = run.model(images)
        else:  # a frozen encoder: its output for these images, computed once
            encoder, regressor = networks.model.encoder, networks.model.regressor
            thetas = regressor(run.encoder_features.features(batch.image, lambda: encoder(images)))
    loss, logs, pred = generator_losses(config, thetas, batch, networks, run.adversary, context, w_mr)
    logs = average_logs(logs, context, batch.image.device)
    check(logs)
    run.optimizer_generator.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer_generator.step()
    if networks.critic is None:
        return logs
    for _ in range(config.critic_steps):
        real, mix = run.sampler.sample(config.batch_size, batch.image.device, context.rank, context.world_size)
        critic_logs = critic_update(networks, run.adversary, run.optimizer_critic, real, pred.body, mix, context)
    critic_logs = average_logs(critic_logs, context, batch.image.device)
    check(critic_logs)
    return {**logs, **critic_logs}
