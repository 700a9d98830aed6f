"""The anatomical joint-limit table and the out-of-limits test used by the plausibility metric."""

from __future__ import annotations

import numpy as np
import roma
import torch

from hybridlib.body_model.joint_limits import (
    BODY_JOINT_NAMES,
    JOINT_LIMITS_DEG,
    euler_to_body_pose,
    joints_outside_limits,
    mirror_joint_index,
)


def _rotations(euler_deg: np.ndarray) -> torch.Tensor:
    return roma.rotvec_to_rotmat(torch.from_numpy(euler_to_body_pose(euler_deg)).reshape(-1, 23, 3))


def test_table_is_left_right_symmetric_and_contains_the_rest_pose():
    assert JOINT_LIMITS_DEG.shape == (23, 3, 2)
    assert (JOINT_LIMITS_DEG[..., 0] <= 0).all() and (JOINT_LIMITS_DEG[..., 1] >= 0).all()
    left_knee, right_knee = BODY_JOINT_NAMES.index("left_knee"), BODY_JOINT_NAMES.index("right_knee")
    assert mirror_joint_index("left_knee") == right_knee and mirror_joint_index("spine2") == BODY_JOINT_NAMES.index(
        "spine2"
    )
    for left in (i for i, name in enumerate(BODY_JOINT_NAMES) if name.startswith("left_")):
        right = mirror_joint_index(BODY_JOINT_NAMES[left])
        np.testing.assert_array_equal(JOINT_LIMITS_DEG[right, 0], JOINT_LIMITS_DEG[left, 0])
        np.testing.assert_array_equal(JOINT_LIMITS_DEG[right, 1:], -JOINT_LIMITS_DEG[left, 1:, ::-1])
    assert not joints_outside_limits(torch.eye(3).expand(1, 23, 3, 3)).any()
    assert JOINT_LIMITS_DEG[left_knee, 0].tolist() == [0.0, 150.0]


def test_a_knee_bent_the_wrong_way_and_a_twisted_neck_are_outside():
    euler = np.zeros((1, 23, 3))
    euler[0, BODY_JOINT_NAMES.index("right_knee"), 0] = -60.0  # hyperextended by 60°
    euler[0, BODY_JOINT_NAMES.index("neck"), 1] = 120.0
    outside = joints_outside_limits(_rotations(euler))[0]
    assert set(np.flatnonzero(outside.numpy())) == {
        BODY_JOINT_NAMES.index("right_knee"),
        BODY_JOINT_NAMES.index("neck"),
    }


def test_every_pose_drawn_inside_the_box_is_found_inside():
    rng = np.random.default_rng(0)
    euler = rng.uniform(JOINT_LIMITS_DEG[..., 0], JOINT_LIMITS_DEG[..., 1], size=(400, 23, 3))
    assert joints_outside_limits(_rotations(euler), tolerance_deg=0.01).float().mean() < 0.001
    # and just outside one bound, with no tolerance, is outside
    beyond = np.zeros((1, 23, 3))
    beyond[0, BODY_JOINT_NAMES.index("left_elbow"), 1] = (
        JOINT_LIMITS_DEG[BODY_JOINT_NAMES.index("left_elbow"), 1, 1] + 3.0
    )
    assert joints_outside_limits(_rotations(beyond), tolerance_deg=0.0)[0, BODY_JOINT_NAMES.index("left_elbow")]
