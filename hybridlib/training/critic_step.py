"""One critic update: the critic's loss (WGAN-GP for the KCS critic, least squares for HMR's
discriminator: :func:`~hybridlib.losses.adversarial.adversarial_losses`) on real bodies and the
generator's last predictions (detached), its gradients averaged over processes, one Adam step.
The critic's layers run in the networks' precision (bf16 under bf16-mixed), the loss in float32."""

from __future__ import annotations

import torch

from hybridlib.losses.adversarial import AdversarialLosses
from hybridlib.models.critic import BodyForCritic
from hybridlib.models.forward import Networks
from hybridlib.training.distributed import DistributedContext, average_gradients


def critic_update(
    networks: Networks,
    adversary: AdversarialLosses,
    optimizer: torch.optim.Optimizer,
    real: BodyForCritic,
    fake: BodyForCritic,
    mix: torch.Tensor,
    context: DistributedContext = DistributedContext(),
) -> dict[str, float]:
    """Update ``networks.critic`` once; ``mix`` (B,) the gradient penalty's interpolation weights.
    Returns the critic's loss and its parts."""
    fake = BodyForCritic(fake.joints.detach(), fake.rotations.detach(), fake.betas.detach())
    with networks.precision.autocast(mix.device):  # the critic's layers; its scores and the loss float32
        loss, logs = adversary.critic(networks.critic, real, fake, mix=mix)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(networks.critic, context)
    optimizer.step()
    return {"loss_critic": loss.item(), **logs}
