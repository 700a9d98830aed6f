"""The shared skeleton facts: the LSP keypoints (mirror, bones, SMPL joints) and the Θ layout."""

from __future__ import annotations

import torch

from hybridlib.skeleton import (
    BODY_JOINT_NAMES,
    LEFT_HIP,
    LEFT_SHOULDER,
    LSP_BONES,
    LSP_FLIP_PERMUTATION,
    LSP_FROM_SMPL_JOINTS,
    LSP_JOINT_NAMES,
    NUM_BODY_JOINTS,
    NUM_JOINTS,
    NUM_LSP_KEYPOINTS,
    RIGHT_HIP,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    THETA_LAYOUT,
    ThetaParts,
    join_theta,
    mirrored_name,
    split_theta,
)


def test_joint_counts_match_the_name_tables():
    assert NUM_LSP_KEYPOINTS == len(LSP_JOINT_NAMES) == len(set(LSP_JOINT_NAMES)) == 14
    assert NUM_JOINTS == len(SMPL_JOINT_NAMES) == len(set(SMPL_JOINT_NAMES)) == len(SMPL_PARENTS) == 24
    assert NUM_BODY_JOINTS == len(BODY_JOINT_NAMES) == 23 and "pelvis" not in BODY_JOINT_NAMES


def test_smpl_parents_form_a_tree_rooted_at_the_pelvis():
    assert SMPL_PARENTS[0] == -1 and SMPL_JOINT_NAMES[0] == "pelvis"
    assert all(0 <= parent < child for child, parent in enumerate(SMPL_PARENTS) if child > 0)


def test_flip_permutation_is_an_involution_that_swaps_left_and_right():
    assert sorted(LSP_FLIP_PERMUTATION) == list(range(NUM_LSP_KEYPOINTS))
    assert all(LSP_FLIP_PERMUTATION[LSP_FLIP_PERMUTATION[index]] == index for index in range(NUM_LSP_KEYPOINTS))
    for index, name in enumerate(LSP_JOINT_NAMES):
        mirror = LSP_JOINT_NAMES[LSP_FLIP_PERMUTATION[index]]
        if name.startswith("left_"):
            assert mirror == "right_" + name.removeprefix("left_")
        elif name.startswith("right_"):
            assert mirror == "left_" + name.removeprefix("right_")
        else:
            assert name in ("neck", "head_top") and mirror == name
    for central in ("neck", "head_top"):
        index = LSP_JOINT_NAMES.index(central)
        assert LSP_FLIP_PERMUTATION[index] == index
    assert mirrored_name("left_knee") == "right_knee" and mirrored_name("right_wrist") == "left_wrist"
    assert mirrored_name("neck") == "neck"


def test_lsp_bones_are_a_tree_over_the_fourteen_keypoints():
    assert len(LSP_BONES) == NUM_LSP_KEYPOINTS - 1 == 13
    assert all(0 <= start < NUM_LSP_KEYPOINTS and 0 <= end < NUM_LSP_KEYPOINTS for start, end in LSP_BONES)
    assert all(start != end for start, end in LSP_BONES)
    assert len({frozenset(bone) for bone in LSP_BONES}) == 13  # no bone twice
    neighbours = {index: set() for index in range(NUM_LSP_KEYPOINTS)}
    for start, end in LSP_BONES:
        neighbours[start].add(end)
        neighbours[end].add(start)
    reached, frontier = {0}, [0]
    while frontier:
        for neighbour in neighbours[frontier.pop()] - reached:
            reached.add(neighbour)
            frontier.append(neighbour)
    assert reached == set(range(NUM_LSP_KEYPOINTS))  # connected with n - 1 edges: a tree


def test_the_flip_maps_the_bones_onto_themselves():
    bones = {frozenset(bone) for bone in LSP_BONES}
    assert {frozenset(LSP_FLIP_PERMUTATION[index] for index in bone) for bone in bones} == bones


def test_lsp_keypoints_from_smpl_joints_have_the_same_names():
    assert len(LSP_FROM_SMPL_JOINTS) == NUM_LSP_KEYPOINTS - 1
    assert [SMPL_JOINT_NAMES[joint] for joint in LSP_FROM_SMPL_JOINTS] == list(LSP_JOINT_NAMES[:-1])
    assert LSP_JOINT_NAMES[-1] == "head_top" and "head_top" not in SMPL_JOINT_NAMES  # a surface vertex


def test_named_lsp_indices_match_their_names():
    assert LSP_JOINT_NAMES[RIGHT_HIP] == "right_hip" and RIGHT_HIP == 2
    assert LSP_JOINT_NAMES[LEFT_HIP] == "left_hip" and LEFT_HIP == 3
    assert LSP_JOINT_NAMES[LEFT_SHOULDER] == "left_shoulder" and LEFT_SHOULDER == 9


def test_theta_layout_is_camera_orient_pose_betas():
    assert (THETA_LAYOUT.camera, THETA_LAYOUT.global_orient) == (slice(0, 3), slice(3, 6))
    assert (THETA_LAYOUT.body_pose, THETA_LAYOUT.betas) == (slice(6, 75), slice(75, 85))
    theta = torch.arange(2 * 85, dtype=torch.float32).reshape(2, 85)
    parts = split_theta(theta)
    assert parts.camera.shape == (2, 3) and parts.body_pose.shape == (2, 69) and parts.betas.shape == (2, 10)
    assert parts.betas[0, 0] == 75
    assert torch.equal(join_theta(parts), theta)


def test_split_theta_rejects_wrong_size():
    try:
        split_theta(torch.zeros(2, 84))
    except ValueError as error:
        assert "85" in str(error)
    else:
        raise AssertionError("a (2,84) Θ must be refused")


def test_theta_parts_are_views_that_carry_gradients():
    theta = torch.zeros(1, 85, requires_grad=True)
    parts: ThetaParts = split_theta(theta)
    (parts.camera.sum() + 2 * parts.betas.sum()).backward()
    assert theta.grad[0, 0] == 1 and theta.grad[0, 80] == 2 and theta.grad[0, 10] == 0
