"""Sport-like poses: inside the joint limits, deterministic, upright in the image, both sides."""

from __future__ import annotations

import numpy as np
import torch

from hybridlib.body_model import BodyModel
from hybridlib.body_model.joint_limits import joints_outside_limits
from hybridlib.data.pose_sampler import POSE_ARCHETYPES, sample_poses
from hybridlib.skeleton import LSP_JOINT_NAMES


def test_poses_are_deterministic_inside_the_limits_and_cover_every_archetype():
    first, again = sample_poses(300, np.random.default_rng(4)), sample_poses(300, np.random.default_rng(4))
    np.testing.assert_array_equal(first.body_pose, again.body_pose)
    assert first.poses.shape == (300, 72) and first.betas.shape == (300, 10) and first.body_pose.dtype == np.float32
    assert set(first.archetype) == set(POSE_ARCHETYPES)
    assert np.abs(first.betas).max() <= 2.5 and 0.8 < first.betas.std() < 1.1
    rotations = BodyModel(lsp_regressor_path=None)(
        torch.from_numpy(first.global_orient), torch.from_numpy(first.body_pose), torch.from_numpy(first.betas)
    ).rotation_matrices
    assert joints_outside_limits(rotations[:, 1:], tolerance_deg=0.5).float().mean() < 0.002


def test_bodies_stand_upright_in_image_coordinates_and_left_right_sides_balance():
    samples = sample_poses(400, np.random.default_rng(1))
    body_model = BodyModel()
    with torch.no_grad():
        keypoints = body_model(
            torch.from_numpy(samples.global_orient),
            torch.from_numpy(samples.body_pose),
            torch.from_numpy(samples.betas),
        ).keypoints_lsp
    head_top, ankles = keypoints[:, LSP_JOINT_NAMES.index("head_top"), 1], keypoints[:, [0, 5], 1].mean(dim=1)
    assert (head_top < ankles).float().mean() > 0.95  # image y points down: the head is on top
    # left and right hips are flexed (negative Euler x) equally often, thanks to mirroring
    left_hip, right_hip = samples.body_pose[:, 0:3], samples.body_pose[:, 3:6]
    assert abs(np.linalg.norm(left_hip, axis=1).mean() - np.linalg.norm(right_hip, axis=1).mean()) < 0.1
