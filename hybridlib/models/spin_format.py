"""Pretrained regressors in SPIN's PyTorch checkpoint format, for Table 2's optional reference row.

SPIN (Kolotouros et al., 2019) releases ``model_checkpoint.pt``: ``{"model": state_dict, ...}``
of an HMR-style network — a torchvision-layout ResNet-50 (``conv1``, ``bn1``, ``layer1…4``),
then three IEF iterations of ``fc1 → dropout → fc2 → dropout`` feeding three heads:
``decpose`` (24 joint rotations in the 6D representation, 144), ``decshape`` (β, 10) and
``deccam`` (weak-perspective ``s, tx, ty``), started from the buffers ``init_pose``,
``init_shape``, ``init_cam``. :class:`SpinFormatRegressor` holds exactly that layout and returns
Θ (B,85) in hybridlib's layout per stage, so the evaluation treats it like a model trained here.

Conventions match hybridlib's: SPIN's camera maps a point to normalised crop coordinates as
``s · (X + t)`` up to its (negligible, focal 5000 px) perspective, and its global rotation
already turns SMPL's y-up body into image coordinates (y down), as our Θ_0 does. Its β are
SMPL's: evaluate it with the licensed SMPL file as BODY_MODEL; with the open body model its
shapes mean something else. HMR's original TensorFlow checkpoints are not read (convert them to
this layout first).
"""

from __future__ import annotations

from pathlib import Path

import roma
import torch
import torchvision
from torch import nn

from hybridlib.geometry import rotation_matrix_to_axis_angle
from hybridlib.models.regressor import mean_theta
from hybridlib.skeleton import NUM_BETAS, NUM_JOINTS, THETA_LAYOUT

ROTATION_6D = 6


class SpinCheckpointError(ValueError):
    """A file that is not a SPIN-format checkpoint; the message names the file and what is wrong."""


def rotation_6d_to_matrix(rotation_6d: torch.Tensor) -> torch.Tensor:
    """SPIN's 6D rotations (..., 6) → rotation matrices (..., 3, 3).

    SPIN reads the six numbers as a 3×2 matrix row by row; its two columns are
    Gram–Schmidt-orthonormalised into the first two columns of the rotation."""
    return roma.special_gramschmidt(rotation_6d.reshape(*rotation_6d.shape[:-1], 3, 2))


def matrix_to_rotation_6d(rotation_matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_6d_to_matrix`: rotation matrices (..., 3, 3) → (..., 6)."""
    return rotation_matrix[..., :, :2].reshape(*rotation_matrix.shape[:-2], ROTATION_6D)


class SpinFormatRegressor(nn.Module):
    """SPIN's network layout: images (B,3,224,224), ImageNet-normalised → list of Θ (B,85)
    per IEF stage, in hybridlib's layout (camera, global orientation, body pose, β)."""

    def __init__(self, num_stages: int = 3) -> None:
        super().__init__()
        backbone = torchvision.models.resnet50(weights=None)
        # the same attribute names as SPIN's model, so its state-dict keys load unchanged
        self.conv1, self.bn1, self.relu, self.maxpool = backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            backbone.layer1,
            backbone.layer2,
            backbone.layer3,
            backbone.layer4,
        )
        feature_dim = 2048
        pose_dim = NUM_JOINTS * ROTATION_6D
        self.fc1 = nn.Linear(feature_dim + pose_dim + NUM_BETAS + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, pose_dim)
        self.decshape = nn.Linear(1024, NUM_BETAS)
        self.deccam = nn.Linear(1024, 3)
        self.num_stages = num_stages
        # until a checkpoint is loaded: start from hybridlib's own Θ_0
        start = mean_theta()
        rotations = torch.cat([start[THETA_LAYOUT.global_orient], start[THETA_LAYOUT.body_pose]]).reshape(NUM_JOINTS, 3)
        self.register_buffer("init_pose", matrix_to_rotation_6d(roma.rotvec_to_rotmat(rotations)).reshape(1, pose_dim))
        self.register_buffer("init_shape", start[THETA_LAYOUT.betas].reshape(1, NUM_BETAS).clone())
        self.register_buffer("init_cam", start[THETA_LAYOUT.camera].reshape(1, 3).clone())

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """ResNet-50 pooled features (B, 2048)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(image))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)  # = SPIN's AvgPool2d(7) at 224 px

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        features = self.features(image)
        batch_size = image.shape[0]
        pose = self.init_pose.expand(batch_size, -1)
        shape = self.init_shape.expand(batch_size, -1)
        camera = self.init_cam.expand(batch_size, -1)
        stages = []
        for _ in range(self.num_stages):
            hidden = self.drop2(self.fc2(self.drop1(self.fc1(torch.cat([features, pose, shape, camera], dim=1)))))
            pose = pose + self.decpose(hidden)
            shape = shape + self.decshape(hidden)
            camera = camera + self.deccam(hidden)
            axis_angles = rotation_matrix_to_axis_angle(
                rotation_6d_to_matrix(pose.reshape(batch_size, NUM_JOINTS, ROTATION_6D))
            )
            stages.append(torch.cat([camera, axis_angles.reshape(batch_size, 3 * NUM_JOINTS), shape], dim=1))
        return stages


def load_spin_checkpoint(path: str | Path) -> SpinFormatRegressor:
    """A :class:`SpinFormatRegressor` with the weights of a SPIN-format ``.pt`` file (read with
    ``weights_only=True``: tensors and containers only, never code)."""
    path = Path(path)
    if not path.is_file():
        raise SpinCheckpointError(
            f"{path}: no such file — give the path of SPIN's model_checkpoint.pt (or a checkpoint in its layout)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — any unreadable or unsafe file gets the same advice
        raise SpinCheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {str(error).splitlines()[0]}); "
            "expected SPIN's model_checkpoint.pt"
        ) from error
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise SpinCheckpointError(
            f"{path}: holds a {type(checkpoint).__name__}, not a state dict; expected SPIN's {{'model': state_dict}}"
        )
    state = {key.removeprefix("module."): value for key, value in state.items()}
    model = SpinFormatRegressor()
    expected = {
        key: value for key, value in model.state_dict().items() if not key.endswith("num_batches_tracked")
    }  # older files lack these counters
    missing = sorted(set(expected) - set(state))
    wrong_shape = sorted(
        key for key in set(expected) & set(state) if tuple(state[key].shape) != tuple(expected[key].shape)
    )
    if missing or wrong_shape:
        details = (
            (f"missing {len(missing)} keys (e.g. {', '.join(missing[:4])})" if missing else "")
            + ("; " if missing and wrong_shape else "")
            + (
                "wrong shapes for "
                + ", ".join(
                    f"{key} {tuple(state[key].shape)} ≠ {tuple(expected[key].shape)}" for key in wrong_shape[:3]
                )
                if wrong_shape
                else ""
            )
        )
        raise SpinCheckpointError(
            f"{path} is not in SPIN's layout: {details}. Expected a ResNet-50 (conv1 … layer4) with fc1, fc2, "
            "decpose (144), decshape (10), deccam (3) and init_pose/init_shape/init_cam, as SPIN's models/hmr.py "
            "saves it; a checkpoint trained by hybridlib is evaluated with evaluate_checkpoint instead."
        )
    model.load_state_dict({key: state[key] for key in expected}, strict=False)
    return model.eval()
