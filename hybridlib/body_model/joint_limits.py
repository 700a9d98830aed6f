"""Anatomical joint-angle limits of the 23 SMPL body joints, one table for two uses: the data
generator's pose sampler draws inside it, and the plausibility metric counts the joints of a
predicted pose that fall outside it.

Angles are intrinsic Euler angles ``XYZ`` of each joint's LOCAL rotation (R = Rx·Ry·Rz, as
``roma.euler_to_rotmat("XYZ", …)``), in degrees, in SMPL's rest frame (x = the body's left,
y = up, z = forward; rest pose = T-pose). With these axes, for the LEFT side:

- hip / knee / ankle: x is flexion (hip flexion −, knee flexion +, plantar flexion +),
  y internal/external rotation, z abduction (+ = away from the body);
- spine / neck / head: x flexion (+ = bending forward), y axial twist, z lateral bend;
- shoulder: z elevation of the arm (+ = up, −90 ≈ arm hanging down), y horizontal
  flexion (− = forward), x rotation about the lateral axis (for a hanging arm: − = forward);
- elbow: y flexion (− for the left arm); wrist: z flexion/extension, y deviation.

Right joints are the mirror images: (x, y, z) → (x, −y, −z), so a right limit is the left
one with y and z negated and swapped. The ranges are the normal active ranges of motion of
the AAOS tables (Greene & Heckman, "The Clinical Measurement of Joint Motion", AAOS 1994;
summarised in Norkin & White, "Measurement of Joint Motion", 5th ed., 2016), split over
SMPL's three spine joints and its neck/head pair, and widened by about 10° where SMPL
spreads one anatomical motion over two joints (collar + shoulder, elbow + wrist twist).
"""

from __future__ import annotations

import numpy as np
import roma
import torch

from hybridlib.skeleton import BODY_JOINT_NAMES, mirrored_name

EULER_CONVENTION = "XYZ"

# Left and central joints: ((x_low, x_high), (y_low, y_high), (z_low, z_high)) in degrees.
_LIMITS_LEFT_AND_CENTRE_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "left_hip": ((-125.0, 30.0), (-40.0, 45.0), (-30.0, 50.0)),  # flexion 125 / extension 30; abduction 45
    "left_knee": ((0.0, 150.0), (-20.0, 20.0), (-10.0, 10.0)),  # flexion 0–150
    "left_ankle": ((-25.0, 50.0), (-25.0, 25.0), (-25.0, 25.0)),  # dorsiflexion 20 / plantar flexion 50
    "left_foot": ((-45.0, 30.0), (-10.0, 10.0), (-10.0, 10.0)),  # toe extension / flexion
    "spine1": ((-15.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),  # lumbar flexion 60 / extension 25 over 2–3 joints
    "spine2": ((-15.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),
    "spine3": ((-15.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),  # thoracic rotation ≈ 40 in all
    "neck": ((-30.0, 35.0), (-35.0, 35.0), (-25.0, 25.0)),  # cervical flexion 45 / extension 45, rotation 80
    "left_collar": ((-15.0, 15.0), (-20.0, 20.0), (-15.0, 30.0)),  # shoulder-girdle elevation
    "head": ((-30.0, 35.0), (-40.0, 40.0), (-25.0, 25.0)),
    "left_shoulder": ((-90.0, 90.0), (-120.0, 45.0), (-95.0, 100.0)),  # abduction 180 with the collar
    "left_elbow": ((-70.0, 70.0), (-150.0, 5.0), (-15.0, 15.0)),  # flexion 150; part of forearm twist
    "left_wrist": ((-40.0, 40.0), (-30.0, 30.0), (-70.0, 70.0)),  # flexion 80 / extension 70, deviation 20–30
    "left_hand": ((-15.0, 15.0), (-20.0, 20.0), (-40.0, 40.0)),
}


def _mirror(limits: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    (x_low, x_high), (y_low, y_high), (z_low, z_high) = limits
    return ((x_low, x_high), (-y_high, -y_low), (-z_high, -z_low))


def _limits_table() -> np.ndarray:
    table = np.zeros((len(BODY_JOINT_NAMES), 3, 2))
    for index, name in enumerate(BODY_JOINT_NAMES):
        if name.startswith("right_"):
            table[index] = _mirror(_LIMITS_LEFT_AND_CENTRE_DEG["left_" + name[len("right_") :]])
        else:
            table[index] = _LIMITS_LEFT_AND_CENTRE_DEG[name]
    return table


JOINT_LIMITS_DEG = _limits_table()
"""(23, 3, 2): per body joint (SMPL order without the pelvis), per Euler axis x, y, z: (low, high) degrees."""


def mirror_joint_index(name: str) -> int:
    """Index (0..22) in the body pose of the left/right counterpart of a body joint (itself if central)."""
    return BODY_JOINT_NAMES.index(mirrored_name(name))


def euler_to_body_pose(euler_deg: np.ndarray) -> np.ndarray:
    """Euler angles (..., 23, 3) degrees → body pose (..., 69) axis-angle radians."""
    euler = torch.as_tensor(np.deg2rad(euler_deg), dtype=torch.float64)
    rotvec = roma.rotmat_to_rotvec(roma.euler_to_rotmat(EULER_CONVENTION, euler))
    return rotvec.reshape(*euler.shape[:-2], 3 * euler.shape[-2]).numpy()


def _wrap_degrees(angles: torch.Tensor) -> torch.Tensor:
    return torch.remainder(angles + 180.0, 360.0) - 180.0


def joints_outside_limits(rotation_matrices: torch.Tensor, tolerance_deg: float = 5.0) -> torch.Tensor:
    """Which body joints are outside :data:`JOINT_LIMITS_DEG`.

    rotation_matrices (B,23,3,3) local joint rotations (the body model's
    ``rotation_matrices[:, 1:]``). A rotation has two XYZ Euler decompositions, (a, b, c) and
    (a+180, 180−b, c+180); a joint is inside when either lies within its limits widened by
    ``tolerance_deg``. Returns (B,23) bool, True = outside.
    """
    euler = torch.rad2deg(roma.rotmat_to_euler(EULER_CONVENTION, rotation_matrices.detach().double()))
    alternative = _wrap_degrees(
        torch.stack([euler[..., 0] + 180.0, 180.0 - euler[..., 1], euler[..., 2] + 180.0], dim=-1)
    )
    limits = torch.as_tensor(JOINT_LIMITS_DEG, dtype=torch.float64, device=euler.device)
    low, high = limits[..., 0] - tolerance_deg, limits[..., 1] + tolerance_deg

    def inside(angles: torch.Tensor) -> torch.Tensor:
        return ((angles >= low) & (angles <= high)).all(dim=-1)

    return ~(inside(euler) | inside(alternative))
