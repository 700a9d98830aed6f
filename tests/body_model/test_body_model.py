import numpy as np
import pytest
import scipy.sparse
import torch
from chumpy_pickles import FakeChumpyCh, write_chumpy_pickle

from hybridlib.body_model import (
    OPEN_BODY_MODEL,
    OPEN_BODY_MODEL_LITE,
    BodyModel,
    BodyModelError,
    load_body_model_arrays,
)
from hybridlib.demo import pose_vector
from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT, axis_angle_to_rotation_matrix
from hybridlib.rendering import face_normals, render_silhouette
from hybridlib.skeleton import LSP_JOINT_NAMES, SMPL_JOINT_NAMES

MODEL_FILES = [OPEN_BODY_MODEL, OPEN_BODY_MODEL_LITE]
JOINT = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}
LSP = {name: index for index, name in enumerate(LSP_JOINT_NAMES)}


@pytest.fixture(scope="module", params=MODEL_FILES, ids=["full", "lite"])
def body_model(request) -> BodyModel:
    return BodyModel(request.param)


def rest(body_model: BodyModel, betas: torch.Tensor | None = None, body_pose: torch.Tensor | None = None):
    batch = 1 if betas is None else betas.shape[0]
    betas = torch.zeros(batch, 10) if betas is None else betas
    body_pose = torch.zeros(batch, 69) if body_pose is None else body_pose
    return body_model(torch.zeros(batch, 3), body_pose, betas)


@pytest.mark.parametrize("path", MODEL_FILES, ids=["full", "lite"])
def test_npz_has_smpl_keys_and_shapes(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    num_vertices = arrays["v_template"].shape[0]
    assert arrays["v_template"].shape == (num_vertices, 3)
    assert arrays["shapedirs"].shape == (num_vertices, 3, 10)
    assert arrays["posedirs"].shape == (num_vertices, 3, 207)
    assert arrays["J_regressor"].shape == (24, num_vertices)
    assert arrays["weights"].shape == (num_vertices, 24)
    assert arrays["kintree_table"].shape == (2, 24)
    assert arrays["f"].ndim == 2 and arrays["f"].shape[1] == 3
    assert arrays["f"].min() == 0 and arrays["f"].max() == num_vertices - 1
    parents = arrays["kintree_table"][0].astype(np.int64)
    assert parents[0] == 4294967295 and list(parents[1:]) == [
        0,
        0,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        9,
        9,
        12,
        13,
        14,
        16,
        17,
        18,
        19,
        20,
        21,
    ]
    np.testing.assert_allclose(arrays["weights"].sum(axis=1), 1.0, atol=1e-5)
    assert (arrays["weights"] >= 0).all()
    np.testing.assert_allclose(arrays["J_regressor"].sum(axis=1), 1.0, atol=1e-5)
    assert (arrays["J_regressor"] >= 0).all()
    # outward-facing triangles: the closed-ish surface encloses a positive volume
    corners = arrays["v_template"][arrays["f"]].astype(np.float64)
    signed_volume = np.einsum("fi,fi->f", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6.0
    assert 0.03 < signed_volume < 0.15  # m³; an adult body is ~0.06–0.1


def test_both_files_together_stay_small():
    assert OPEN_BODY_MODEL.stat().st_size + OPEN_BODY_MODEL_LITE.stat().st_size < 5 * 1024 * 1024


def test_zero_pose_and_shape_gives_the_template(body_model):
    output = rest(body_model)
    assert output.vertices.shape == (1, body_model.num_vertices, 3)
    assert output.joints.shape == (1, 24, 3)
    assert output.keypoints_lsp.shape == (1, 14, 3)
    assert output.rotation_matrices.shape == (1, 24, 3, 3)
    assert torch.allclose(output.vertices[0], body_model.smpl.v_template, atol=1e-6)
    assert torch.allclose(output.rotation_matrices, torch.eye(3).expand(1, 24, 3, 3), atol=1e-6)


def test_t_pose_height_and_horizontal_arms(body_model):
    output = rest(body_model)
    vertices, joints = output.vertices[0], output.joints[0]
    height = float(vertices[:, 1].max() - vertices[:, 1].min())
    assert 1.6 <= height <= 1.85
    for side in ("left", "right"):
        shoulder, wrist = joints[JOINT[f"{side}_shoulder"]], joints[JOINT[f"{side}_wrist"]]
        arm = wrist - shoulder
        assert abs(float(arm[1])) < 0.05 * float(arm.norm())  # horizontal within ~3°
        hip, ankle = joints[JOINT[f"{side}_hip"]], joints[JOINT[f"{side}_ankle"]]
        assert float(hip[1] - ankle[1]) > 0.6  # legs hang down


def test_positive_beta0_is_monotonically_taller(body_model):
    betas = torch.zeros(5, 10)
    betas[:, 0] = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    vertices = rest(body_model, betas=betas).vertices
    heights = (vertices[..., 1].max(dim=1).values - vertices[..., 1].min(dim=1).values).tolist()
    assert all(later > earlier + 0.01 for earlier, later in zip(heights, heights[1:], strict=False)), heights


def test_gradients_reach_pose_and_betas(body_model):
    global_orient = torch.zeros(2, 3, requires_grad=True)
    body_pose = (0.1 * torch.randn(2, 69, generator=torch.Generator().manual_seed(0))).requires_grad_()
    betas = torch.zeros(2, 10, requires_grad=True)
    output = body_model(global_orient, body_pose, betas)
    (output.vertices.square().sum() + output.keypoints_lsp.square().sum()).backward()
    for parameter in (global_orient, body_pose, betas):
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
        assert parameter.grad.abs().sum() > 0
    assert (body_pose.grad.reshape(2, 23, 3).abs().sum(dim=(0, 2)) > 0).sum() >= 20


def test_lsp_keypoints_land_on_the_expected_body_parts(body_model):
    keypoints = rest(body_model).keypoints_lsp[0]
    y, x = keypoints[:, 1], keypoints[:, 0]
    # ankles lowest, head top highest, neck below the head top and above the shoulders
    assert set(torch.argsort(y)[:2].tolist()) == {LSP["right_ankle"], LSP["left_ankle"]}
    assert int(torch.argmax(y)) == LSP["head_top"]
    assert y[LSP["neck"]] > y[LSP["left_shoulder"]] - 0.05
    # left is +x in SMPL's frame, and the chain goes outwards along the arms
    for name in ("ankle", "knee", "hip", "wrist", "elbow", "shoulder"):
        assert x[LSP[f"left_{name}"]] > 0 > x[LSP[f"right_{name}"]], name
    for side, sign in (("left", 1), ("right", -1)):
        assert sign * x[LSP[f"{side}_wrist"]] > sign * x[LSP[f"{side}_elbow"]] > sign * x[LSP[f"{side}_shoulder"]]
        assert y[LSP[f"{side}_hip"]] > y[LSP[f"{side}_knee"]] > y[LSP[f"{side}_ankle"]]
    # the head top is a surface vertex near the midline
    assert abs(float(x[LSP["head_top"]])) < 0.03


def test_posing_the_left_shoulder_lowers_the_left_arm(body_model):
    lowered = rest(body_model, body_pose=pose_vector({"left_shoulder": (0.0, 0.0, -1.4)}))
    joints = lowered.joints[0]
    assert joints[JOINT["left_wrist"], 1] < joints[JOINT["left_shoulder"], 1] - 0.3
    assert abs(float(joints[JOINT["right_wrist"], 1] - joints[JOINT["right_shoulder"], 1])) < 0.05


def test_silhouette_area_agrees_with_the_projected_mesh_area():
    body_model = BodyModel(OPEN_BODY_MODEL)
    with torch.no_grad():
        vertices = (
            body_model(torch.tensor([UPRIGHT_GLOBAL_ORIENT]), torch.zeros(1, 69), torch.zeros(1, 10))
            .vertices[0]
            .numpy()
        )
    camera = np.array([1.0, 0.0, 0.2])
    image_size = 448
    mask = render_silhouette(vertices, body_model.faces, camera, image_size)
    # projected area of the front-facing triangles, in pixels (overlaps, e.g. the nose over
    # the face, make this an upper bound; in a T-pose they are small)
    pixels = vertices[:, :2] * camera[0] * image_size / 2.0
    faces = body_model.faces[face_normals(vertices, body_model.faces)[:, 2] < 0]
    corners = pixels[faces]
    edge_a, edge_b = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    front_area = 0.5 * np.abs(edge_a[:, 0] * edge_b[:, 1] - edge_a[:, 1] * edge_b[:, 0]).sum()
    assert 0.93 < mask.sum() / front_area <= 1.01


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(FileNotFoundError, match="SMPL_NEUTRAL.pkl") as error:
        BodyModel(missing)
    assert "leave the body model unset" in str(error.value)
    with pytest.raises(FileNotFoundError, match="SMPL_NEUTRAL.pkl"):
        BodyModel(tmp_path)  # a folder means <folder>/SMPL_NEUTRAL.pkl, as smplx


def test_wrong_model_files_are_refused_with_the_reason(tmp_path):
    arrays = dict(np.load(OPEN_BODY_MODEL_LITE, allow_pickle=False))
    missing_key = tmp_path / "no_weights.npz"
    np.savez(missing_key, **{key: value for key, value in arrays.items() if key != "weights"})
    with pytest.raises(BodyModelError, match=r"no_weights\.npz.*\['weights'\]"):
        load_body_model_arrays(missing_key)
    smplh_like = tmp_path / "smplh_like.npz"
    np.savez(smplh_like, **{**arrays, "J_regressor": np.zeros((52, arrays["v_template"].shape[0]))})
    with pytest.raises(BodyModelError, match=r"smplh_like\.npz.*'J_regressor' has shape \(52"):
        BodyModel(smplh_like)
    text_file = tmp_path / "model.npz"
    text_file.write_text("not a zip")
    with pytest.raises(BodyModelError, match="cannot read"):
        BodyModel(text_file)
    other_format = tmp_path / "model.obj"
    other_format.write_text("")
    with pytest.raises(BodyModelError, match="unsupported"):
        BodyModel(other_format)


def test_lsp_regressor_replaces_the_joint_mapping(tmp_path):
    body_model = BodyModel(OPEN_BODY_MODEL_LITE)
    # a regressor that picks one vertex per keypoint must return exactly those vertices
    picked = np.arange(14) * 7
    regressor = np.zeros((14, body_model.num_vertices), np.float32)
    regressor[np.arange(14), picked] = 1.0
    np.save(tmp_path / "lsp_regressor.npy", regressor)
    with_regressor = BodyModel(OPEN_BODY_MODEL_LITE, lsp_regressor_path=tmp_path / "lsp_regressor.npy")
    output = rest(with_regressor)
    assert torch.allclose(output.keypoints_lsp[0], output.vertices[0, picked])
    np.save(tmp_path / "bad.npy", regressor[:, :10])
    with pytest.raises(BodyModelError, match=r"bad\.npy.*\(14, 10\)"):
        BodyModel(OPEN_BODY_MODEL_LITE, lsp_regressor_path=tmp_path / "bad.npy")


def test_a_chumpy_style_smpl_pickle_runs_through_the_same_code_path(tmp_path, monkeypatch):
    """The licensed-SMPL path: chumpy arrays, a sparse J_regressor, protocol 2, no chumpy installed."""
    arrays = dict(np.load(OPEN_BODY_MODEL_LITE, allow_pickle=False))
    smpl_style = {key: arrays[key].astype(np.float64) for key in ("posedirs", "kintree_table", "f")}
    smpl_style.update(
        {key: FakeChumpyCh(arrays[key].astype(np.float64)) for key in ("v_template", "shapedirs", "weights")}
    )
    smpl_style["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"].astype(np.float64))
    smpl_style["f"] = arrays["f"].astype(np.uint32)
    smpl_style["kintree_table"] = arrays["kintree_table"]
    smpl_style.update(
        head_top_vertex=arrays["head_top_vertex"], face_keypoint_vertices=arrays["face_keypoint_vertices"]
    )
    write_chumpy_pickle(tmp_path / "SMPL_NEUTRAL.pkl", smpl_style, monkeypatch)

    from_pickle = BodyModel(tmp_path)  # a folder, as smplx
    from_npz = BodyModel(OPEN_BODY_MODEL_LITE)
    pose = 0.3 * torch.randn(2, 69, generator=torch.Generator().manual_seed(1))
    betas = torch.randn(2, 10, generator=torch.Generator().manual_seed(2))
    expected, actual = from_npz(torch.zeros(2, 3), pose, betas), from_pickle(torch.zeros(2, 3), pose, betas)
    for field in ("vertices", "joints", "keypoints_lsp", "rotation_matrices"):
        assert torch.allclose(getattr(actual, field), getattr(expected, field), atol=1e-5), field
    skeleton = from_pickle(
        torch.zeros(2, 3), pose, betas, with_vertices=False
    )  # the shortcut from a sparse J_regressor
    assert torch.allclose(skeleton.keypoints_lsp, expected.keypoints_lsp, atol=1e-5)


def test_the_skeleton_only_forward_gives_the_same_joints_keypoints_and_gradients(body_model):
    generator = torch.Generator().manual_seed(4)
    global_orient, pose, betas = (
        torch.randn(3, 3, generator=generator),
        0.4 * torch.randn(3, 69, generator=generator),
        torch.randn(3, 10, generator=generator),
    )
    results = []
    for with_vertices in (True, False):
        pose_, betas_ = pose.clone().requires_grad_(), betas.clone().requires_grad_()
        output = body_model(global_orient, pose_, betas_, with_vertices=with_vertices)
        output.keypoints_lsp.square().sum().backward()
        results.append((output, pose_.grad, betas_.grad))
    (full, pose_grad, betas_grad), (skeleton, skeleton_pose_grad, skeleton_betas_grad) = results
    assert skeleton.vertices is None and full.vertices is not None
    torch.testing.assert_close(skeleton.joints, full.joints, atol=1e-5, rtol=0)
    torch.testing.assert_close(skeleton.keypoints_lsp, full.keypoints_lsp, atol=1e-5, rtol=0)
    torch.testing.assert_close(skeleton_pose_grad, pose_grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(skeleton_betas_grad, betas_grad, atol=1e-4, rtol=1e-4)


def test_a_non_smpl_mesh_without_landmarks_is_refused(tmp_path):
    arrays = dict(np.load(OPEN_BODY_MODEL_LITE, allow_pickle=False))
    del arrays["head_top_vertex"], arrays["face_keypoint_vertices"]
    np.savez(tmp_path / "no_landmarks.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"no_landmarks\.npz has 1229 vertices and no 'head_top_vertex'"):
        BodyModel(tmp_path / "no_landmarks.npz")


def _smplx_reference(body_model: BodyModel, global_orient, pose, betas):
    """smplx.SMPL's own forward on the same buffers: vertices and the 24 joints."""
    rotations = axis_angle_to_rotation_matrix(torch.cat([global_orient, pose], dim=1).reshape(-1, 24, 3))
    output = body_model.smpl(betas=betas, global_orient=rotations[:, :1], body_pose=rotations[:, 1:], pose2rot=False)
    return output.vertices, output.joints[:, :24]


@pytest.mark.parametrize("pose_blend_shapes", [False, True], ids=["open-model (none)", "random (as SMPL has)"])
def test_the_forward_equals_smplx_in_values_and_gradients(tmp_path, pose_blend_shapes):
    """The shortcuts of BodyModel.forward (precomputed rest joints, pose blend shapes skipped
    when zero, element-wise skinning) give smplx.SMPL's vertices, joints and gradients."""
    path = OPEN_BODY_MODEL_LITE
    if pose_blend_shapes:
        arrays = dict(np.load(OPEN_BODY_MODEL_LITE, allow_pickle=False))
        arrays["posedirs"] = 0.01 * np.random.default_rng(0).standard_normal(arrays["posedirs"].shape).astype(
            np.float32
        )
        path = tmp_path / "with_pose_blend_shapes.npz"
        np.savez(path, **arrays)
    body_model = BodyModel(path)
    assert body_model.has_pose_blend_shapes == pose_blend_shapes
    generator = torch.Generator().manual_seed(7)
    global_orient, pose, betas = (
        torch.randn(3, 3, generator=generator),
        0.5 * torch.randn(3, 69, generator=generator),
        torch.randn(3, 10, generator=generator),
    )
    weights_vertices, weights_joints = (
        torch.randn(3, body_model.num_vertices, 3, generator=generator),
        torch.randn(3, 24, 3, generator=generator),
    )
    results = []
    for forward in (
        lambda *args: _smplx_reference(body_model, *args),
        lambda *args: (lambda out: (out.vertices, out.joints))(body_model(*args)),
    ):
        inputs = [tensor.clone().requires_grad_() for tensor in (global_orient, pose, betas)]
        vertices, joints = forward(*inputs)
        ((vertices * weights_vertices).sum() + (joints * weights_joints).sum()).backward()
        results.append((vertices, joints, *(tensor.grad for tensor in inputs)))
    for name, expected, actual in zip(
        ("vertices", "joints", "global_orient grad", "pose grad", "betas grad"), *results, strict=True
    ):
        torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4, msg=name)
