"""Adversarial losses: the improved Wasserstein loss with gradient penalty (WGAN-GP, Gulrajani
et al. 2017) for the KCS critic, and the least-squares GAN loss of HMR's discriminator.

Critic scores are (B, streams); every stream is one critic, and their losses are summed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

from hybridlib.models.critic import BodyForCritic

GRADIENT_PENALTY_WEIGHT = 10.0


def interpolate_bodies(real: BodyForCritic, fake: BodyForCritic, mix: torch.Tensor) -> BodyForCritic:
    """Per-sample random interpolates ``mix·real + (1−mix)·fake``, mix (B,) in [0, 1]."""

    def blend(real_part: torch.Tensor, fake_part: torch.Tensor) -> torch.Tensor:
        weight = mix.reshape(-1, *([1] * (real_part.dim() - 1)))
        return weight * real_part + (1.0 - weight) * fake_part

    return BodyForCritic(
        **{item.name: blend(getattr(real, item.name), getattr(fake, item.name)) for item in fields(BodyForCritic)}
    )


def gradient_penalty(critic: Callable[[BodyForCritic], torch.Tensor], interpolates: BodyForCritic) -> torch.Tensor:
    """Σ_streams mean_batch (‖∇ score‖₂ − 1)², the gradient taken per sample over all critic
    inputs. A critic whose streams read disjoint inputs says which (``stream_inputs``, as
    :class:`~hybridlib.models.critic.KCSCritic`): one gradient of the summed scores then serves
    every stream, instead of one gradient (and its double backward) per stream."""
    names = [item.name for item in fields(BodyForCritic)]
    inputs = BodyForCritic(**{name: getattr(interpolates, name).detach().requires_grad_(True) for name in names})
    tensors = [getattr(inputs, name) for name in names]
    scores = critic(inputs)
    stream_inputs = getattr(critic, "stream_inputs", None)
    if stream_inputs is None:
        per_stream = [
            torch.autograd.grad(scores[:, stream].sum(), tensors, create_graph=True, allow_unused=True)
            for stream in range(scores.shape[1])
        ]
    else:
        gradients = dict(
            zip(names, torch.autograd.grad(scores.sum(), tensors, create_graph=True, allow_unused=True), strict=True)
        )
        per_stream = [[gradients[name] for name in stream_names] for stream_names in stream_inputs]
    penalty = scores.new_zeros(())
    for gradients in per_stream:
        squared = sum(gradient.flatten(1).pow(2).sum(dim=1) for gradient in gradients if gradient is not None)
        penalty = penalty + ((squared + 1e-12).sqrt() - 1.0).pow(2).mean()
    return penalty


def wgan_gp_critic_loss(
    critic: Callable[[BodyForCritic], torch.Tensor],
    real: BodyForCritic,
    fake: BodyForCritic,
    penalty_weight: float = GRADIENT_PENALTY_WEIGHT,
    mix: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Critic loss Σ_streams [mean D(fake) − mean D(real)] + λ·GP; fake is detached.
    ``mix`` (B,) the interpolation weights of the penalty (default: uniform draws)."""
    fake = BodyForCritic(**{item.name: getattr(fake, item.name).detach() for item in fields(BodyForCritic)})
    real_scores, fake_scores = critic(real), critic(fake)
    if mix is None:
        mix = torch.rand(real.joints.shape[0], device=real.joints.device)
    penalty = gradient_penalty(critic, interpolate_bodies(real, fake, mix))
    wasserstein = (real_scores.mean(dim=0) - fake_scores.mean(dim=0)).sum()
    loss = -wasserstein + penalty_weight * penalty
    return loss, {"critic_wasserstein": wasserstein.item(), "critic_gradient_penalty": penalty.item()}


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial loss −Σ_streams mean_batch D(fake)."""
    return -fake_scores.mean(dim=0).sum()


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """HMR: Σ_streams [mean (D(real) − 1)² + mean D(fake)²]."""
    return ((real_scores - 1.0).pow(2).mean(dim=0) + fake_scores.pow(2).mean(dim=0)).sum()


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """HMR: Σ_streams mean (D(fake) − 1)²."""
    return (fake_scores - 1.0).pow(2).mean(dim=0).sum()


def lsgan_critic_loss(
    critic: Callable[[BodyForCritic], torch.Tensor], real: BodyForCritic, fake: BodyForCritic, mix: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """HMR's discriminator loss on real and (detached) fake bodies, in the form of
    :func:`wgan_gp_critic_loss` (``mix`` is unused: no gradient penalty)."""
    fake = BodyForCritic(**{item.name: getattr(fake, item.name).detach() for item in fields(BodyForCritic)})
    return lsgan_discriminator_loss(critic(real), critic(fake)), {}


@dataclass(frozen=True)
class AdversarialLosses:
    """The pair of losses a critic kind is trained with: ``generator(fake_scores)`` and
    ``critic(critic, real, fake, mix) -> (loss, logs)``."""

    generator: Callable[[torch.Tensor], torch.Tensor]
    critic: Callable[..., tuple[torch.Tensor, dict[str, float]]]


def adversarial_losses(critic_kind: str) -> AdversarialLosses | None:
    """The one place a critic kind picks its losses: "none" → None; "hmr" (HMR's discriminator)
    → least squares; the KCS critics ("without_rotation", "with_rotation") → WGAN-GP."""
    if critic_kind == "none":
        return None
    if critic_kind == "hmr":
        return AdversarialLosses(generator=lsgan_generator_loss, critic=lsgan_critic_loss)
    if critic_kind in ("without_rotation", "with_rotation"):
        return AdversarialLosses(generator=wgan_generator_loss, critic=wgan_gp_critic_loss)
    raise ValueError(f"critic must be 'none', 'without_rotation', 'with_rotation' or 'hmr', got {critic_kind!r}")
