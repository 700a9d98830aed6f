"""The adversarial losses: WGAN-GP for the KCS critic, least squares for HMR's discriminator,
and the choice of the pair by critic kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybridlib.losses import (
    gradient_penalty,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    wgan_generator_loss,
    wgan_gp_critic_loss,
)
from hybridlib.losses.adversarial import adversarial_losses, interpolate_bodies, lsgan_critic_loss
from hybridlib.models.critic import BodyForCritic, KCSCritic


def _bodies(batch: int, seed: int) -> BodyForCritic:
    generator = torch.Generator().manual_seed(seed)
    return BodyForCritic(
        torch.randn(batch, 14, 3, generator=generator),
        torch.randn(batch, 23, 3, 3, generator=generator),
        torch.randn(batch, 10, generator=generator),
    )


def test_gradient_penalty_is_zero_for_unit_gradient_critics_and_positive_otherwise():
    def linear_critic(scale: float):
        direction = torch.randn(10, generator=torch.Generator().manual_seed(0))
        direction = direction / direction.norm() * scale
        return lambda body: torch.stack(
            [body.betas @ direction, body.joints.flatten(1).sum(dim=1) * scale / np.sqrt(42)], dim=1
        )

    bodies = _bodies(6, 1)
    assert gradient_penalty(linear_critic(1.0), bodies).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_penalty(linear_critic(3.0), bodies).item() == pytest.approx(2 * (3.0 - 1.0) ** 2, rel=1e-5)


@pytest.mark.parametrize("with_rotation", [True, False])
def test_kcs_critic_loss_with_one_penalty_gradient_equals_a_gradient_per_stream(with_rotation):
    torch.manual_seed(0)
    critic = KCSCritic(with_rotation=with_rotation)
    real, fake, mix = _bodies(6, 4), _bodies(6, 5), torch.rand(6)

    def reference() -> torch.Tensor:  # the textbook form: one gradient (and double backward) per stream
        inputs = BodyForCritic(
            **{
                name: value.detach().requires_grad_(True)
                for name, value in vars(interpolate_bodies(real, fake, mix)).items()
            }
        )
        scores = critic(inputs)
        penalty = 0.0
        for stream in range(scores.shape[1]):
            gradients = torch.autograd.grad(
                scores[:, stream].sum(), list(vars(inputs).values()), create_graph=True, allow_unused=True
            )
            squared = sum(gradient.flatten(1).pow(2).sum(dim=1) for gradient in gradients if gradient is not None)
            penalty = penalty + ((squared + 1e-12).sqrt() - 1.0).pow(2).mean()
        return -(critic(real).mean(dim=0) - critic(fake).mean(dim=0)).sum() + 10.0 * penalty

    results = []
    for loss_of in (lambda: wgan_gp_critic_loss(critic, real, fake, mix=mix)[0], reference):
        critic.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        results.append([loss.detach()] + [parameter.grad for parameter in critic.parameters()])
    for ours, expected in zip(*results, strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


def test_wasserstein_and_least_squares_losses_have_the_right_signs():
    critic = lambda body: body.betas[:, :2]  # noqa: E731  (two "streams")
    real, fake = _bodies(4, 2), _bodies(4, 3)
    real.betas += 2.0
    loss, logs = wgan_gp_critic_loss(critic, real, fake, penalty_weight=0.0)
    assert logs["critic_wasserstein"] > 0 and loss.item() == pytest.approx(-logs["critic_wasserstein"])
    scores = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert wgan_generator_loss(scores).item() == pytest.approx(-(2.0 + 3.0))
    assert lsgan_generator_loss(torch.ones(3, 25)).item() == 0.0
    assert lsgan_discriminator_loss(torch.ones(3, 25), torch.zeros(3, 25)).item() == 0.0
    assert lsgan_discriminator_loss(torch.zeros(3, 25), torch.ones(3, 25)).item() == pytest.approx(50.0)


def test_each_critic_kind_picks_its_pair_of_losses():
    assert adversarial_losses("none") is None
    hmr = adversarial_losses("hmr")
    assert (hmr.generator, hmr.critic) == (lsgan_generator_loss, lsgan_critic_loss)
    for kind in ("without_rotation", "with_rotation"):
        kcs = adversarial_losses(kind)
        assert (kcs.generator, kcs.critic) == (wgan_generator_loss, wgan_gp_critic_loss)
    with pytest.raises(ValueError, match="'none', 'without_rotation', 'with_rotation' or 'hmr', got 'gan'"):
        adversarial_losses("gan")


def test_the_least_squares_critic_loss_is_hmrs_discriminator_loss_on_detached_fakes():
    critic = KCSCritic(with_rotation=True)
    real, fake, mix = _bodies(4, 6), _bodies(4, 7), torch.rand(4)
    fake.betas.requires_grad_(True)
    loss, logs = adversarial_losses("hmr").critic(critic, real, fake, mix)
    assert logs == {}
    torch.testing.assert_close(loss, lsgan_discriminator_loss(critic(real), critic(fake)))
    loss.backward()
    assert fake.betas.grad is None  # the generator's side takes no gradient from the critic's loss
