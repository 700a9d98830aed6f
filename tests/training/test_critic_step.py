"""One critic update: only the critic learns, on detached fakes, and it reports its loss."""

from __future__ import annotations

import pytest
import torch

from hybridlib.losses.adversarial import adversarial_losses
from hybridlib.models.critic import BodyForCritic, build_critic
from hybridlib.models.forward import Networks
from hybridlib.training.critic_step import critic_update
from hybridlib.training.optimizer import adam


def _bodies(batch: int, seed: int, requires_grad: bool = False) -> BodyForCritic:
    generator = torch.Generator().manual_seed(seed)
    return BodyForCritic(
        torch.randn(batch, 14, 3, generator=generator).requires_grad_(requires_grad),
        torch.randn(batch, 23, 3, 3, generator=generator).requires_grad_(requires_grad),
        torch.randn(batch, 10, generator=generator).requires_grad_(requires_grad),
    )


@pytest.mark.parametrize(
    ("critic", "logged"), [("with_rotation", {"critic_wasserstein", "critic_gradient_penalty"}), ("hmr", set())]
)
def test_a_critic_update_steps_the_critic_on_detached_fakes_and_logs_its_loss(critic, logged):
    torch.manual_seed(0)
    networks = Networks(model=torch.nn.Linear(1, 1), critic=build_critic(critic), body_model=None)
    adversary = adversarial_losses(critic)
    optimizer = adam(networks.critic.parameters(), 1e-3)
    before = [parameter.detach().clone() for parameter in networks.critic.parameters()]
    real, fake, mix = _bodies(4, 1), _bodies(4, 2, requires_grad=True), torch.rand(4)
    expected_loss, _ = adversary.critic(networks.critic, real, fake, mix=mix)
    logs = critic_update(networks, adversary, optimizer, real, fake, mix)
    assert set(logs) == {"loss_critic"} | logged
    assert logs["loss_critic"] == pytest.approx(expected_loss.item(), rel=1e-6)
    after = list(networks.critic.parameters())
    assert any(not torch.equal(old, new) for old, new in zip(before, after, strict=True))  # one Adam step taken
    assert all(part.grad is None for part in (fake.joints, fake.rotations, fake.betas))  # the generator is not touched
    assert all(parameter.grad is None for parameter in networks.model.parameters())
