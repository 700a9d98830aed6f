"""hybridlib.body_model.build_open: the parts of the open-model build that need no ``anny``
(the tables, the rotations, PCA, the joint regressor, face orientation and the npz writer),
on synthetic data whose answers are known."""

from __future__ import annotations

import itertools
import zipfile

import numpy as np
import pytest
import torch

from hybridlib.body_model.build_open import (
    FINGER_BONES,
    KNUCKLE_BONES,
    TOE_BASE_BONES,
    TOE_BONES,
    anny_bones_locating_smpl_joints,
    anny_bones_of_smpl_joints,
    body_height,
    fit_joint_regressor,
    fit_shape_space,
    joint_error_mm,
    orient_faces_outwards,
    rotation_between,
    smpl_joint_of_each_bone,
    smpl_neighbour_joints,
    t_pose_segments,
    write_deterministic_npz,
)
from hybridlib.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

NUM_JOINTS = len(SMPL_JOINT_NAMES)

# ----------------------------------------------------------------------------- tables


def test_every_smpl_joint_takes_anny_bones_and_no_bone_goes_to_two_joints():
    mapping = anny_bones_of_smpl_joints()
    assert sorted(mapping) == sorted(SMPL_JOINT_NAMES)
    bones = [bone for joint_bones in mapping.values() for bone in joint_bones]
    assert all(mapping.values()) and len(bones) == len(set(bones))
    assert mapping["left_foot"] == [f"{bone}.L" for bone in TOE_BONES]
    assert mapping["right_hand"] == [f"{bone}.R" for bone in FINGER_BONES]


def test_the_locating_bones_of_a_joint_are_among_the_bones_it_takes():
    taken, locating = anny_bones_of_smpl_joints(), anny_bones_locating_smpl_joints()
    assert sorted(locating) == sorted(SMPL_JOINT_NAMES)
    for joint, bones in locating.items():
        assert bones and set(bones) <= set(taken[joint]), joint
    assert locating["pelvis"] == ["spine05"] and locating["left_shoulder"] == ["upperarm01.L"]
    assert locating["left_foot"] == [f"{bone}.L" for bone in TOE_BASE_BONES]
    assert locating["right_hand"] == [f"{bone}.R" for bone in KNUCKLE_BONES]


def test_smpl_joint_of_each_bone_follows_the_table_and_sends_head_descendants_to_the_head():
    labels = ["root", "spine05", "neck01", "head", "eye.L", "eyelid.L", "upperarm01.L"]
    parents = [-1, 0, 1, 2, 3, 4, 1]  # eyelid.L under eye.L under head: both unlisted
    joints = smpl_joint_of_each_bone(labels, parents)
    assert joints.dtype == np.int64
    names = ["pelvis", "pelvis", "neck", "head", "head", "head", "left_shoulder"]
    assert joints.tolist() == [SMPL_JOINT_NAMES.index(name) for name in names]


def test_smpl_joint_of_each_bone_refuses_an_unlisted_bone_outside_the_head():
    labels, parents = ["root", "head", "tail"], [-1, 0, 0]
    with pytest.raises(ValueError, match="'tail' has no SMPL joint"):
        smpl_joint_of_each_bone(labels, parents)


def test_t_pose_segments_point_the_arms_sideways_and_the_legs_down():
    segments = t_pose_segments()
    assert len({segment.first_bone for segment in segments}) == len(segments) == 10
    for segment in segments:
        direction = np.asarray(segment.smpl_direction)
        assert np.linalg.norm(direction) == pytest.approx(1.0) and segment.end_bones
        side = 1.0 if segment.first_bone.endswith(".L") else -1.0
        assert segment.first_bone.endswith((".L", ".R")) and all(
            bone[-2:] == segment.first_bone[-2:] for bone in segment.end_bones
        )
        if segment.first_bone.startswith(("upperleg", "lowerleg")):
            np.testing.assert_array_equal(direction, [0.0, -1.0, 0.0])
        else:  # arm, forearm, hand: the character's left towards +x
            np.testing.assert_array_equal(direction, [side, 0.0, 0.0])


# ----------------------------------------------------------------------------- rotations


def _assert_rotations(rotations: torch.Tensor) -> None:
    identity = torch.eye(3, dtype=rotations.dtype).expand_as(rotations)
    torch.testing.assert_close(rotations @ rotations.transpose(-1, -2), identity, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rotations), torch.ones(rotations.shape[:-2], dtype=rotations.dtype))


def test_rotation_between_maps_the_source_direction_onto_the_target_by_the_smallest_rotation():
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(64, 3, generator=generator, dtype=torch.float64) * 3.0  # not unit length
    target = torch.randn(64, 3, generator=generator, dtype=torch.float64) * 0.2
    rotations = rotation_between(source, target)
    assert rotations.shape == (64, 3, 3)
    _assert_rotations(rotations)
    unit_source = source / source.norm(dim=-1, keepdim=True)
    unit_target = target / target.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(torch.einsum("bij,bj->bi", rotations, unit_source), unit_target)
    # the smallest rotation: its angle is the angle between the two, its axis normal to both
    angle = torch.arccos(((torch.einsum("bii->b", rotations) - 1.0) / 2.0).clamp(-1.0, 1.0))
    torch.testing.assert_close(angle, torch.arccos((unit_source * unit_target).sum(dim=-1)))
    axis_vector = torch.cross(unit_source, unit_target, dim=-1)
    torch.testing.assert_close(torch.einsum("bij,bj->bi", rotations, axis_vector), axis_vector)


def test_rotation_between_equal_directions_is_the_identity():
    source = torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    rotations = rotation_between(source, 5.0 * source)
    torch.testing.assert_close(rotations, torch.eye(3, dtype=torch.float64).expand(2, 3, 3))


def test_rotation_between_nearly_opposite_directions():
    source = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([[-1.0, 1e-6, 0.0]], dtype=torch.float64)
    rotations = rotation_between(source, target)
    _assert_rotations(rotations)
    torch.testing.assert_close(rotations[0] @ source[0], target[0] / target[0].norm())


def test_rotation_between_opposite_directions_turns_the_source_around():
    source = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.6, 0.8]], dtype=torch.float64)
    rotations = rotation_between(source, -source)
    _assert_rotations(rotations)
    torch.testing.assert_close(torch.einsum("nij,nj->ni", rotations, source), -source)


# ----------------------------------------------------------------------------- shape space


def test_body_height_is_the_vertical_extent():
    vertices = np.array([[[0.0, -0.9, 0.0], [5.0, 0.8, 1.0], [0.0, 0.1, -3.0]]])
    np.testing.assert_allclose(body_height(vertices), [1.7])
    assert body_height(vertices[0]) == pytest.approx(1.7)
    assert body_height(np.stack([vertices[0], 2.0 * vertices[0]])).shape == (2,)


def _synthetic_shapes(num_samples: int, num_vertices: int, num_directions: int, seed: int = 0):
    """Vertices that are a mean (taller along y) plus ``num_directions`` fixed directions times
    random coefficients: the shape space has exactly that many components."""
    generator = np.random.default_rng(seed)
    mean = generator.normal(size=(num_vertices, 3)) * np.array([0.2, 0.8, 0.1])
    directions = generator.normal(size=(num_directions, num_vertices, 3)) * 0.01
    coefficients = generator.normal(size=(num_samples, num_directions)) * np.linspace(3.0, 1.0, num_directions)
    return mean + np.einsum("nk,kvc->nvc", coefficients, directions)


def test_fit_shape_space_reconstructs_held_out_shapes_of_the_same_space():
    num_vertices, num_directions = 200, 4
    vertices = _synthetic_shapes(60, num_vertices, num_directions)
    training, held_out = vertices[:45], vertices[45:]
    space = fit_shape_space(training, num_directions)
    assert space.mean_vertices.shape == (num_vertices, 3)
    assert space.shapedirs.shape == (num_vertices, 3, num_directions)
    np.testing.assert_allclose(space.mean_vertices, training.mean(axis=0))
    basis = space.shapedirs.reshape(-1, num_directions)
    betas, *_ = np.linalg.lstsq(basis, (held_out - space.mean_vertices).reshape(len(held_out), -1).T, rcond=None)
    reconstructed = space.mean_vertices + (basis @ betas).T.reshape(held_out.shape)
    np.testing.assert_allclose(reconstructed, held_out, atol=1e-5)
    # k components explain everything; fewer explain less, in order
    explained = space.cumulative_variance_explained
    assert explained.shape == (num_directions,) and np.all(np.diff(explained) > 0)
    assert explained[-1] == pytest.approx(1.0)


def test_fit_shape_space_scales_components_so_that_training_betas_have_unit_variance():
    vertices = _synthetic_shapes(80, 150, 3, seed=1)
    space = fit_shape_space(vertices, 3)
    basis = space.shapedirs.reshape(-1, 3)
    betas, *_ = np.linalg.lstsq(basis, (vertices - space.mean_vertices).reshape(len(vertices), -1).T, rcond=None)
    np.testing.assert_allclose(betas.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(betas.std(axis=1, ddof=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(betas @ betas.T / (len(vertices) - 1), np.eye(3), atol=1e-6)  # uncorrelated


def test_fit_shape_space_makes_positive_beta_0_taller():
    num_vertices = 100
    generator = np.random.default_rng(2)
    mean = generator.normal(size=(num_vertices, 3))
    # the main direction of variation stretches y, with the largest-magnitude entry negative,
    # so that the largest-entry sign rule alone would make +beta_0 shorter
    stretch = np.zeros((num_vertices, 3))
    stretch[:, 1] = mean[:, 1] * 0.05
    stretch[0, 0] = -10.0 * np.abs(stretch).max()
    other = generator.normal(size=(num_vertices, 3)) * 0.001
    coefficients = generator.normal(size=(40, 2)) * np.array([5.0, 1.0])
    vertices = mean + coefficients[:, :1, None] * stretch + coefficients[:, 1:, None] * other
    space = fit_shape_space(vertices, 2)
    component_0 = space.shapedirs[..., 0]
    assert body_height(space.mean_vertices + component_0) > body_height(space.mean_vertices)
    component_1 = space.shapedirs[..., 1].reshape(-1)
    assert component_1[np.argmax(np.abs(component_1))] > 0  # the sign rule for the other components


# ----------------------------------------------------------------------------- joint regressor


def test_smpl_neighbour_joints_are_the_joint_its_parent_and_its_children():
    joint = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}
    assert smpl_neighbour_joints(joint["pelvis"]) == [0, joint["left_hip"], joint["right_hip"], joint["spine1"]]
    assert smpl_neighbour_joints(joint["spine3"]) == [
        joint["spine3"], joint["spine2"], joint["neck"], joint["left_collar"], joint["right_collar"]
    ]  # fmt: skip
    assert smpl_neighbour_joints(joint["head"]) == [joint["head"], joint["neck"]]
    for index in range(NUM_JOINTS):
        neighbours = smpl_neighbour_joints(index)
        expected = {index, SMPL_PARENTS[index]} - {-1}
        expected |= {child for child, parent in enumerate(SMPL_PARENTS) if parent == index}
        assert neighbours[0] == index and sorted(neighbours) == sorted(expected)


def _synthetic_skeleton(num_samples: int, vertices_per_joint: int = 8, seed: int = 0):
    """Vertices skinned one-hot to a joint each, scattered around it; each joint an exact
    convex combination of three of its own vertices. Returns vertices, joints, weights and
    the true regressor."""
    generator = np.random.default_rng(seed)
    num_vertices = NUM_JOINTS * vertices_per_joint
    joint_of_vertex = np.repeat(np.arange(NUM_JOINTS), vertices_per_joint)
    weights = np.eye(NUM_JOINTS)[joint_of_vertex]
    centres = generator.normal(size=(NUM_JOINTS, 3)) * 0.4
    vertices = (
        centres[joint_of_vertex] + generator.normal(size=(num_samples, num_vertices, 3)) * 0.05
    ) + generator.normal(size=(num_samples, 1, 3)) * 0.01
    regressor = np.zeros((NUM_JOINTS, num_vertices))
    for joint in range(NUM_JOINTS):
        chosen = joint * vertices_per_joint + generator.choice(vertices_per_joint, size=3, replace=False)
        regressor[joint, chosen] = generator.dirichlet(np.ones(3))
    joints = np.einsum("jv,nvc->njc", regressor, vertices)
    return vertices, joints, weights, regressor


def test_fit_joint_regressor_recovers_joints_that_are_weighted_vertex_averages():
    vertices, joints, weights, true_regressor = _synthetic_skeleton(num_samples=40)
    training, held_out = slice(0, 30), slice(30, None)
    regressor = fit_joint_regressor(vertices[training], joints[training], weights)
    assert regressor.shape == true_regressor.shape
    assert np.all(regressor >= 0.0)
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(regressor, true_regressor, atol=1e-6)
    assert joint_error_mm(regressor, vertices[training], joints[training]) < 1e-3
    assert joint_error_mm(regressor, vertices[held_out], joints[held_out]) < 1e-3


def test_fit_joint_regressor_uses_only_vertices_skinned_to_the_joint_or_its_neighbours():
    vertices, _, weights, _ = _synthetic_skeleton(num_samples=30, seed=1)
    # the targets are off the mesh (a fixed offset from the mean of all vertices), so NNLS
    # spreads weight over whichever candidates it may use
    joints = vertices.mean(axis=1, keepdims=True) + np.linspace(-0.3, 0.3, NUM_JOINTS * 3).reshape(1, NUM_JOINTS, 3)
    regressor = fit_joint_regressor(vertices, joints, weights)
    skinned_joint = weights.argmax(axis=1)
    for joint in range(NUM_JOINTS):
        used = np.flatnonzero(regressor[joint])
        assert len(used) > 0 and set(skinned_joint[used]) <= set(smpl_neighbour_joints(joint)), joint
    assert np.all(regressor >= 0.0)
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)


def test_joint_error_mm_is_the_mean_distance_in_millimetres():
    vertices = np.zeros((2, 3, 3))
    vertices[:, 1] = [1.0, 2.0, 3.0]
    regressor = np.zeros((2, 3))
    regressor[0, 0] = regressor[1, 1] = 1.0
    joints = np.einsum("jv,nvc->njc", regressor, vertices)
    assert joint_error_mm(regressor, vertices, joints) == 0.0
    shifted = joints.copy()
    shifted[:, 0, 0] += 0.004  # joint 0 off by 4 mm, joint 1 exact: mean 2 mm
    assert joint_error_mm(regressor, vertices, shifted) == pytest.approx(2.0)


# ----------------------------------------------------------------------------- faces


def _outward_cube(side: float, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    vertices = corners * side + offset
    centre = vertices.mean(axis=0)
    faces = []
    for axis, value in itertools.product(range(3), (0.0, 1.0)):
        quad = [index for index, corner in enumerate(corners) if corner[axis] == value]
        a, b, c, d = quad  # itertools order: a, b, d, c go round the square
        for triangle in ((a, b, d), (a, d, c)):
            first, second, third = vertices[list(triangle)]
            outward = np.dot(np.cross(second - first, third - first), (first + second + third) / 3.0 - centre) > 0
            faces.append(triangle if outward else triangle[::-1])
    return np.array(faces, dtype=np.int64), vertices


@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (3.0, -2.0, 7.5)], ids=["at-origin", "off-origin"])
def test_orient_faces_outwards_keeps_an_outward_mesh_and_reports_its_volume(offset):
    faces, vertices = _outward_cube(0.5, np.asarray(offset))
    oriented, volume = orient_faces_outwards(faces, vertices)
    np.testing.assert_array_equal(oriented, faces)
    assert volume == pytest.approx(0.125)


def test_orient_faces_outwards_flips_an_inward_mesh():
    faces, vertices = _outward_cube(2.0, np.array([1.0, 1.0, -4.0]))
    inward = faces[:, ::-1].copy()
    oriented, volume = orient_faces_outwards(inward, vertices)
    assert volume == pytest.approx(8.0)
    # the same triangles, each reversed back: outward again
    assert sorted(map(tuple, np.sort(oriented, axis=1))) == sorted(map(tuple, np.sort(faces, axis=1)))
    np.testing.assert_array_equal(oriented, inward[:, ::-1])
    again, again_volume = orient_faces_outwards(oriented, vertices)
    np.testing.assert_array_equal(again, oriented)
    assert again_volume == pytest.approx(8.0)


def test_orient_faces_outwards_of_a_tetrahedron():
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) + 10.0
    inward = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])  # normals towards the inside
    oriented, volume = orient_faces_outwards(inward, vertices)
    assert volume == pytest.approx(1.0 / 6.0)
    np.testing.assert_array_equal(oriented, inward[:, ::-1])


# ----------------------------------------------------------------------------- output


def _arrays() -> dict[str, np.ndarray]:
    generator = np.random.default_rng(0)
    return {
        "v_template": generator.normal(size=(50, 3)).astype(np.float32),
        "shapedirs": np.asfortranarray(generator.normal(size=(50, 3, 4))),  # not C-ordered
        "f": generator.integers(0, 50, size=(30, 3)),
        "build_seed": np.array(7, dtype=np.int64),  # 0-d
        "kintree_table": np.array([[4294967295, 0], [0, 1]], dtype=np.int64),
    }


def test_write_deterministic_npz_reads_back_with_np_load(tmp_path):
    arrays = _arrays()
    path = tmp_path / "model.npz"
    write_deterministic_npz(path, arrays)
    with np.load(path, allow_pickle=False) as archive:
        assert list(archive.files) == list(arrays)
        for key, value in arrays.items():
            assert archive[key].dtype == value.dtype and archive[key].shape == value.shape, key
            np.testing.assert_array_equal(archive[key], value)


def test_write_deterministic_npz_gives_the_same_bytes_for_the_same_arrays(tmp_path):
    first, second = tmp_path / "a" / "model.npz", tmp_path / "b.npz"
    first.parent.mkdir()
    write_deterministic_npz(first, _arrays())
    write_deterministic_npz(second, _arrays())
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        for entry in archive.infolist():  # fixed timestamps, compressed
            assert entry.date_time == (1980, 1, 1, 0, 0, 0) and entry.compress_type == zipfile.ZIP_DEFLATED
    changed = _arrays()
    changed["build_seed"] = np.array(8, dtype=np.int64)
    write_deterministic_npz(second, changed)
    assert first.read_bytes() != second.read_bytes()
