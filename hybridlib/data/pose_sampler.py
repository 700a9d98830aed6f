"""Sport-like SMPL poses and shapes for the generated dataset and its MoSh-format pose set.

A pose is one of :data:`POSE_ARCHETYPES` (running, jumping, throwing, kicking, crouching,
reaching, …), mirrored left/right half of the time, with Gaussian noise on every Euler angle,
clipped to the anatomical table of :mod:`hybridlib.body_model.joint_limits` — so every
sampled pose is inside the limits the plausibility metric checks. The global orientation
stands the body upright in image coordinates (HMR's π about x) and turns it about the
vertical by any angle (more often towards the camera), with a small lean. Shapes are
β ~ N(0, 1), clipped to ±2.5.

Images and the MoSh set are disjoint draws of this one distribution (separate random
streams of one seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import roma
import torch

from hybridlib.body_model.joint_limits import JOINT_LIMITS_DEG, euler_to_body_pose, mirror_joint_index
from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.skeleton import BODY_JOINT_NAMES, NUM_BETAS

# Archetypes in ANATOMICAL degrees: right-side joints are written like left-side ones
# (hip flexion −, abduction +, elbow flexion −, …) and mirrored into SMPL's axes on use.
_ARMS_HANGING = {
    "left_shoulder": (0, 0, -75),
    "right_shoulder": (0, 0, -75),
    "left_elbow": (0, -20, 0),
    "right_elbow": (0, -20, 0),
}
POSE_ARCHETYPES: dict[str, dict[str, tuple[float, float, float]]] = {
    "ready_stance": {
        **_ARMS_HANGING, "left_hip": (-15, 0, 8), "right_hip": (-15, 0, 8), "left_knee": (25, 0, 0),
        "right_knee": (25, 0, 0), "left_elbow": (0, -60, 0), "right_elbow": (0, -60, 0), "spine1": (10, 0, 0),
    },
    "running": {
        "left_hip": (-65, 0, 0), "right_hip": (20, 0, 0), "left_knee": (50, 0, 0), "right_knee": (100, 0, 0),
        "right_ankle": (35, 0, 0), "left_shoulder": (40, 0, -70), "right_shoulder": (-50, 0, -70),
        "left_elbow": (0, -95, 0), "right_elbow": (0, -90, 0), "spine1": (10, 0, 0), "spine2": (5, -8, 0),
    },
    "jump_arms_up": {
        "left_hip": (-45, 0, 5), "right_hip": (-45, 0, 5), "left_knee": (80, 0, 0), "right_knee": (80, 0, 0),
        "left_ankle": (35, 0, 0), "right_ankle": (35, 0, 0), "left_shoulder": (0, -20, 75),
        "right_shoulder": (0, -20, 75), "left_elbow": (0, -20, 0), "right_elbow": (0, -20, 0), "spine2": (-10, 0, 0),
        "neck": (-15, 0, 0),
    },
    "tuck_jump": {
        "left_hip": (-105, 0, 10), "right_hip": (-105, 0, 10), "left_knee": (125, 0, 0), "right_knee": (125, 0, 0),
        "left_shoulder": (-60, 0, -45), "right_shoulder": (-60, 0, -45), "left_elbow": (0, -90, 0),
        "right_elbow": (0, -90, 0), "spine1": (15, 0, 0), "spine2": (10, 0, 0),
    },
    "throwing": {
        "left_hip": (-35, 0, 10), "right_hip": (15, 0, 5), "left_knee": (25, 0, 0), "right_knee": (30, 0, 0),
        "right_shoulder": (-20, 35, 15), "right_elbow": (-40, -95, 0), "left_shoulder": (0, -70, -15),
        "left_elbow": (0, -30, 0), "spine1": (0, -12, 6), "spine2": (0, -12, 6), "spine3": (0, -10, 5),
        "head": (0, 20, 0),
    },
    "kicking": {
        "right_hip": (-85, 0, 5), "right_knee": (20, 0, 0), "right_ankle": (35, 0, 0), "left_hip": (-5, 0, 5),
        "left_knee": (15, 0, 0), "left_shoulder": (0, -25, -30), "right_shoulder": (0, 15, -40), "spine1": (-10, 0, 0),
        "spine2": (-5, 0, 0),
    },
    "crouching": {
        "left_hip": (-110, 0, 15), "right_hip": (-110, 0, 15), "left_knee": (135, 0, 0), "right_knee": (135, 0, 0),
        "left_ankle": (-20, 0, 0), "right_ankle": (-20, 0, 0), "spine1": (25, 0, 0), "spine2": (20, 0, 0),
        "left_shoulder": (-45, 0, -55), "right_shoulder": (-45, 0, -55), "left_elbow": (0, -60, 0),
        "right_elbow": (0, -60, 0), "neck": (-20, 0, 0),
    },
    "reaching_up": {
        "left_shoulder": (0, -10, 90), "left_elbow": (0, -10, 0), "right_shoulder": (0, 0, -60),
        "right_elbow": (0, -30, 0), "spine1": (0, 0, -10), "spine2": (0, 0, -10), "spine3": (0, 0, -8),
        "left_ankle": (35, 0, 0), "right_ankle": (35, 0, 0), "head": (-25, 0, 0),
    },
    "lunge": {
        "left_hip": (-85, 0, 5), "left_knee": (90, 0, 0), "right_hip": (20, 0, 5), "right_knee": (30, 0, 0),
        "left_shoulder": (0, -45, -30), "right_shoulder": (0, -45, -30), "left_elbow": (0, -20, 0),
        "right_elbow": (0, -20, 0), "spine1": (5, 0, 0),
    },
    "bending_over": {
        **_ARMS_HANGING, "left_hip": (-75, 0, 10), "right_hip": (-75, 0, 10), "left_knee": (35, 0, 0),
        "right_knee": (35, 0, 0), "spine1": (25, 0, 0), "spine2": (20, 0, 0), "spine3": (10, 0, 0),
        "left_shoulder": (-70, 0, -80), "right_shoulder": (-70, 0, -80), "neck": (-25, 0, 0),
    },
}  # fmt: skip


@dataclass(frozen=True)
class PoseSamplerConfig:
    """Noise around the archetypes and the spread of the global orientation.

    angle_noise_deg: std of the Gaussian noise per Euler angle (scaled per sample by
    U[0.5, 1.5]); front_facing_fraction: share of bodies turned at most ±60° from the camera
    (the rest: any direction); lean_deg: std of the forward/sideways lean; beta_std/beta_clip:
    the shape distribution.
    """

    angle_noise_deg: float = 12.0
    front_facing_fraction: float = 0.6
    lean_deg: float = 8.0
    beta_std: float = 1.0
    beta_clip: float = 2.5


@dataclass(frozen=True)
class PoseSamples:
    """global_orient (N,3), body_pose (N,69) axis-angle radians, betas (N,10); archetype (N,) names."""

    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    archetype: tuple[str, ...]

    @property
    def poses(self) -> np.ndarray:
        """(N,72) SMPL pose vectors (global orientation first), as MoSh stores them."""
        return np.concatenate([self.global_orient, self.body_pose], axis=1)


def _archetype_euler(name: str, mirrored: bool) -> np.ndarray:
    """(23,3) SMPL-axes Euler degrees of an archetype, optionally mirrored left ↔ right."""
    euler = np.zeros((len(BODY_JOINT_NAMES), 3))
    for joint_name, angles in POSE_ARCHETYPES[name].items():
        target = mirror_joint_index(joint_name) if mirrored else BODY_JOINT_NAMES.index(joint_name)
        x, y, z = angles
        on_right = BODY_JOINT_NAMES[target].startswith("right_")
        euler[target] = (x, -y, -z) if on_right else (x, y, z)
    return euler


def sample_body_euler(
    count: int, rng: np.random.Generator, config: PoseSamplerConfig = PoseSamplerConfig()
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Euler angles (count,23,3) degrees inside the joint limits, and each sample's archetype."""
    names = tuple(POSE_ARCHETYPES)
    chosen = rng.integers(len(names), size=count)
    mirrored = rng.uniform(size=count) < 0.5
    noise_scale = config.angle_noise_deg * rng.uniform(0.5, 1.5, size=(count, 1, 1))
    noise = rng.normal(size=(count, len(BODY_JOINT_NAMES), 3)) * noise_scale
    base = np.zeros((count, len(BODY_JOINT_NAMES), 3))
    for sample, (index, flip) in enumerate(zip(chosen, mirrored, strict=True)):
        base[sample] = _archetype_euler(names[index], bool(flip))
    euler = np.clip(base + noise, JOINT_LIMITS_DEG[..., 0], JOINT_LIMITS_DEG[..., 1])
    return euler, tuple(names[index] for index in chosen)


def sample_global_orient(
    count: int, rng: np.random.Generator, config: PoseSamplerConfig = PoseSamplerConfig()
) -> np.ndarray:
    """(count,3) axis-angle: upright in image coordinates, turned about the vertical, leaning a little."""
    front = rng.uniform(size=count) < config.front_facing_fraction
    yaw = np.where(front, rng.uniform(-60.0, 60.0, size=count), rng.uniform(-180.0, 180.0, size=count))
    lean_forward, lean_side = rng.normal(scale=config.lean_deg, size=(2, count))
    upright = roma.rotvec_to_rotmat(torch.tensor(UPRIGHT_GLOBAL_ORIENT, dtype=torch.float64))
    turn = roma.euler_to_rotmat(
        "XYZ", torch.as_tensor(np.stack([lean_forward, yaw, lean_side], axis=1)), degrees=True, dtype=torch.float64
    )
    return roma.rotmat_to_rotvec(upright @ turn).numpy()


def sample_poses(count: int, rng: np.random.Generator, config: PoseSamplerConfig = PoseSamplerConfig()) -> PoseSamples:
    """Draw ``count`` sport-like poses and shapes (float32)."""
    euler, archetypes = sample_body_euler(count, rng, config)
    body_pose = euler_to_body_pose(euler)
    global_orient = sample_global_orient(count, rng, config)
    betas = np.clip(rng.normal(scale=config.beta_std, size=(count, NUM_BETAS)), -config.beta_clip, config.beta_clip)
    return PoseSamples(
        global_orient=global_orient.astype(np.float32),
        body_pose=body_pose.astype(np.float32),
        betas=betas.astype(np.float32),
        archetype=archetypes,
    )
