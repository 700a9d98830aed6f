"""The critic's real bodies: pose/shape samples from a MoSh/AMASS folder
(:func:`~hybridlib.data.mocap.read_mocap_folder`), posed by the body model as the critic sees
them, drawn with a generator whose state a checkpoint saves."""

from __future__ import annotations

from pathlib import Path

import torch

from hybridlib.body_model import BodyModel
from hybridlib.data.mocap import read_mocap_folder
from hybridlib.models.critic import BodyForCritic, body_for_critic


class RealBodySampler:
    """Real bodies for the critic, drawn from the poses (N,72) and β (N,10) of a MoSh/AMASS folder."""

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
        self, count: int, device: torch.device, rank: int = 0, world_size: int = 1
    ) -> tuple[BodyForCritic, torch.Tensor]:
        """Process ``rank``'s share (of ``world_size``) of ``count`` real bodies and of ``count``
        gradient-penalty interpolation weights in [0, 1]: every process draws the same global
        sample and takes its slice."""
        index = torch.randint(len(self.poses), (count,), generator=self.generator)[rank::world_size]
        mix = torch.rand(count, generator=self.generator)[rank::world_size].to(device)
        poses, betas = self.poses[index].to(device), self.betas[index].to(device)
        with torch.no_grad():
            output = self.body_model(poses[:, :3], poses[:, 3:], betas, with_vertices=False)
        return body_for_critic(output, betas), mix
