"""Critics that judge whether a body is plausible: the paper's three-stream KCS critic (trained
with WGAN-GP) and HMR's discriminator (trained with a least-squares GAN) for the baseline.

Both take a :class:`BodyForCritic`: 14 LSP joints in the body's own frame (global rotation
removed, centred on the pelvis), the 23 local joint rotations and β — computed the same way
for predictions and for the real MoSh/AMASS samples (:func:`body_for_critic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from hybridlib.body_model.body_model import BodyModelOutput
from hybridlib.skeleton import LSP_BONES, NUM_BETAS, NUM_BODY_JOINTS, NUM_LSP_KEYPOINTS

CriticVariant = Literal["none", "without_rotation", "with_rotation"]


def bone_incidence_matrix() -> torch.Tensor:
    """C (14,13): column b has −1 at the bone's first joint and +1 at its second, so that the
    bone vectors are B = X·C for joints X (3,14)."""
    incidence = torch.zeros(NUM_LSP_KEYPOINTS, len(LSP_BONES))
    for bone, (start, end) in enumerate(LSP_BONES):
        incidence[start, bone], incidence[end, bone] = -1.0, 1.0
    return incidence


def kcs_matrix(joints: torch.Tensor, incidence: torch.Tensor) -> torch.Tensor:
    """Kinematic chain space Ψ = BᵀB (B,13,13) of joints (B,14,3), with B = Xᵀ·C."""
    bones = joints.transpose(1, 2) @ incidence  # (B,3,13)
    return bones.transpose(1, 2) @ bones


@dataclass
class BodyForCritic:
    """joints (B,14,3) pelvis-centred in the body frame; rotations (B,23,3,3); betas (B,10)."""

    joints: torch.Tensor
    rotations: torch.Tensor
    betas: torch.Tensor


def body_for_critic(output: BodyModelOutput, betas: torch.Tensor) -> BodyForCritic:
    """Remove the global rotation from the body model's LSP keypoints and centre them on the pelvis."""
    pelvis = output.joints[:, :1]
    global_rotation = output.rotation_matrices[:, 0]
    joints = (output.keypoints_lsp - pelvis) @ global_rotation  # row vectors: Rᵀ(x − p)
    return BodyForCritic(joints=joints, rotations=output.rotation_matrices[:, 1:], betas=betas)


def _mlp(sizes: tuple[int, ...], slope: float = 0.2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(size_in, size_out))
        if index < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


class KCSCritic(nn.Module):
    """The paper's critic (Fig. 2): skeleton stream (KCS Ψ → FC 100 and joints → FC 100,
    concatenated → FC 1), shape stream (β → 10 → 5 → 1) and, ``with_rotation``, a rotation
    stream (23×3×3 → 300 → 100 → 1). Returns float32 scores (B, streams): higher = more real
    (its layers run in bf16 under autocast)."""

    def __init__(self, with_rotation: bool = True) -> None:
        super().__init__()
        self.with_rotation = with_rotation
        self.register_buffer("incidence", bone_incidence_matrix())
        num_bones = len(LSP_BONES)
        self.kcs_stream = nn.Sequential(nn.Linear(num_bones * num_bones, 100), nn.LeakyReLU(0.2))
        self.joint_stream = nn.Sequential(nn.Linear(NUM_LSP_KEYPOINTS * 3, 100), nn.LeakyReLU(0.2))
        self.skeleton_head = nn.Linear(200, 1)
        self.shape_stream = _mlp((NUM_BETAS, 10, 5, 1))
        self.rotation_stream = _mlp((NUM_BODY_JOINTS * 9, 300, 100, 1)) if with_rotation else None

    @property
    def num_streams(self) -> int:
        return 3 if self.with_rotation else 2

    @property
    def stream_inputs(self) -> tuple[tuple[str, ...], ...]:
        """The inputs each stream reads, in score order; no two streams share one (the gradient
        penalty relies on it)."""
        return (("joints",), ("betas",), ("rotations",))[: self.num_streams]

    def forward(self, body: BodyForCritic) -> torch.Tensor:
        batch = body.joints.shape[0]
        kcs = kcs_matrix(body.joints, self.incidence).reshape(batch, -1)
        skeleton = self.skeleton_head(
            torch.cat([self.kcs_stream(kcs), self.joint_stream(body.joints.reshape(batch, -1))], dim=1)
        )
        scores = [skeleton, self.shape_stream(body.betas)]
        if self.rotation_stream is not None:
            scores.append(self.rotation_stream(body.rotations.reshape(batch, -1)))
        return torch.cat(scores, dim=1).float()  # float32 also under autocast: the losses read them


class HMRDiscriminator(nn.Module):
    """HMR's discriminator: per-joint rotation discriminators sharing two 1×1 convolutions of
    width 32 (23 scores), an all-joints FC 1024-1024-1 on their features, and a shape
    FC 10-5-1. Returns float32 scores (B, 25); trained with a least-squares GAN."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.shared = nn.Sequential(nn.Conv1d(9, width, 1), nn.ReLU(), nn.Conv1d(width, width, 1), nn.ReLU())
        self.per_joint = nn.Conv1d(
            width * NUM_BODY_JOINTS, NUM_BODY_JOINTS, 1, groups=NUM_BODY_JOINTS
        )  # one linear per joint
        self.all_joints = nn.Sequential(
            nn.Linear(width * NUM_BODY_JOINTS, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1)
        )
        self.shape = _mlp((NUM_BETAS, 10, 5, 1))

    def forward(self, body: BodyForCritic) -> torch.Tensor:
        batch = body.rotations.shape[0]
        features = self.shared(body.rotations.reshape(batch, NUM_BODY_JOINTS, 9).transpose(1, 2))  # (B,32,23)
        stacked = features.transpose(1, 2).reshape(batch, -1, 1)  # (B, 23·32, 1), joint-major
        per_joint = self.per_joint(stacked).reshape(batch, NUM_BODY_JOINTS)
        scores = torch.cat([per_joint, self.all_joints(stacked.squeeze(-1)), self.shape(body.betas)], dim=1)
        return scores.float()  # float32 also under autocast: the losses read them


def build_critic(variant: CriticVariant | Literal["hmr"]) -> nn.Module | None:
    """ "none" → None; "without_rotation" / "with_rotation" → KCSCritic; "hmr" → HMRDiscriminator."""
    if variant == "none":
        return None
    if variant in ("without_rotation", "with_rotation"):
        return KCSCritic(with_rotation=variant == "with_rotation")
    if variant == "hmr":
        return HMRDiscriminator()
    raise ValueError(f"critic must be 'none', 'without_rotation', 'with_rotation' or 'hmr', got {variant!r}")
