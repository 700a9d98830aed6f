"""SMPL-layout body model over ``smplx.SMPL``: the embedded open model (.npz) or a licensed
SMPL file (.pkl), through one code path.

``smplx.SMPL`` only reads pickles (with plain ``pickle.load``), so hybridlib reads the file
itself — the open ``.npz`` with ``allow_pickle=False``, a licensed ``.pkl`` through the
restricted unpickler of :mod:`hybridlib.safe_pickle` (no chumpy, no code execution) — and
hands the arrays to ``smplx.SMPL`` as its ``data_struct``.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.utils import Struct
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from hybridlib.geometry import NUM_BETAS, NUM_BODY_JOINTS, axis_angle_to_rotation_matrix
from hybridlib.safe_pickle import load_smpl_pickle

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
OPEN_BODY_MODEL = ASSETS_DIR / "open_body_neutral.npz"
OPEN_BODY_MODEL_LITE = ASSETS_DIR / "open_body_neutral_lite.npz"

NUM_JOINTS = NUM_BODY_JOINTS + 1
SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

LSP_JOINT_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)  # fmt: skip
# The first 13 LSP keypoints are SMPL joints (SMPL's "shoulder" joints are the shoulder
# balls, its hips the hip-joint centres); the 14th, head top, is a surface vertex.
LSP_FROM_SMPL_JOINTS = tuple(SMPL_JOINT_NAMES.index(name) for name in LSP_JOINT_NAMES[:-1])
# Top of the skull on the licensed SMPL mesh (SMPL-Anthropometry's HEAD_TOP landmark).
SMPL_HEAD_TOP_VERTEX = 412
SMPL_NUM_VERTICES = 6890

# Keys and shapes every SMPL-layout file must hold: "V" = the number of vertices, "*" = any.
REQUIRED_SHAPES: dict[str, tuple[int | str, ...]] = {
    "v_template": ("V", 3),
    "shapedirs": ("V", 3, "*"),
    "posedirs": ("V", 3, 9 * NUM_BODY_JOINTS),
    "J_regressor": (NUM_JOINTS, "V"),
    "weights": ("V", NUM_JOINTS),
    "kintree_table": (2, NUM_JOINTS),
    "f": ("*", 3),
}
_FIX_HINT = (
    "Pass the licensed SMPL file (SMPL_NEUTRAL.pkl, SMPL_MALE.pkl or SMPL_FEMALE.pkl from the SMPL "
    "website) or leave the body model unset to use the embedded open model "
    f"({OPEN_BODY_MODEL.name}); rebuild the open model with `make body-model`."
)


class BodyModelError(ValueError):
    """A body-model file that exists but is not a usable SMPL-layout model."""


@dataclass
class BodyModelOutput:
    """vertices (B,V,3) and joints (B,24,3) in metres, model space (y up); keypoints_lsp
    (B,14,3) in LSP order; rotation_matrices (B,24,3,3) local (parent-relative) rotations.
    ``vertices`` is None for a skeleton-only forward (``with_vertices=False``)."""

    vertices: torch.Tensor | None
    joints: torch.Tensor
    keypoints_lsp: torch.Tensor
    rotation_matrices: torch.Tensor


def resolve_body_model_path(model_path: str | Path | None) -> Path:
    """None → the embedded open model; a folder → its SMPL_NEUTRAL.pkl; else the path."""
    if model_path is None:
        return OPEN_BODY_MODEL
    path = Path(model_path).expanduser()
    if path.is_dir():
        path = path / "SMPL_NEUTRAL.pkl"
    return path


def load_body_model_arrays(model_path: str | Path | None = None) -> dict[str, object]:
    """Read and validate an SMPL-layout file (.npz or licensed .pkl) into a dict of arrays.

    ``J_regressor`` may come back as a scipy sparse matrix (licensed SMPL); smplx accepts it.
    Raises FileNotFoundError / BodyModelError naming the path and the fix.
    """
    path = resolve_body_model_path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"body model file not found: {path}. {_FIX_HINT}")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays: dict[str, object] = {key: archive[key] for key in archive.files}
        except (OSError, ValueError) as error:
            raise BodyModelError(f"cannot read body model {path} as .npz ({error}). {_FIX_HINT}") from error
    elif path.suffix == ".pkl":
        arrays = load_smpl_pickle(path)
    else:
        raise BodyModelError(f"unsupported body model file {path}: expected .npz (open model) or .pkl (licensed SMPL). {_FIX_HINT}")

    missing = sorted(set(REQUIRED_SHAPES) - set(arrays))
    if missing:
        raise BodyModelError(f"body model {path} lacks the SMPL keys {missing} (it has {sorted(arrays)}). {_FIX_HINT}")
    num_vertices = np.shape(arrays["v_template"])[0]
    for key, expected in REQUIRED_SHAPES.items():
        shape = tuple(np.shape(arrays[key]))
        wanted = tuple(num_vertices if dim == "V" else dim for dim in expected)
        if len(shape) != len(wanted) or any(w != "*" and w != s for w, s in zip(wanted, shape)):
            raise BodyModelError(
                f"body model {path}: '{key}' has shape {shape}, expected {wanted} for a 24-joint SMPL "
                f"model with {num_vertices} vertices (SMPL-H/SMPL-X files are not SMPL). {_FIX_HINT}"
            )
    if np.shape(arrays["shapedirs"])[2] < NUM_BETAS:
        raise BodyModelError(f"body model {path}: shapedirs has {np.shape(arrays['shapedirs'])[2]} components, need ≥ {NUM_BETAS}. {_FIX_HINT}")
    return arrays


def _smplx_model(model_path: Path, arrays: dict[str, object], vertex_ids: dict[str, int]) -> smplx.SMPL:
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-β models
        return smplx.SMPL(
            model_path=str(model_path),
            data_struct=Struct(**arrays),
            num_betas=NUM_BETAS,
            vertex_ids=vertex_ids,
            use_hands=False,
            use_feet_keypoints=False,
            create_betas=False,
            create_global_orient=False,
            create_body_pose=False,
            create_transl=False,
        )


def _skeleton_arrays(arrays: dict[str, object], head_top_vertex: int) -> dict[str, object]:
    """An SMPL-layout model with 25 'vertices': the 24 rest joints (J_regressor applied to the
    template and to every shape direction — exact, the joints are linear in β) and the head-top
    vertex. Posed by smplx it gives the full model's joints and head top, skipping the mesh."""
    regressor = arrays["J_regressor"]
    regressor = np.asarray(regressor.todense() if hasattr(regressor, "todense") else regressor, dtype=np.float64)  # (24,V)
    shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)[:, :, :NUM_BETAS]
    posedirs = np.asarray(arrays["posedirs"], dtype=np.float64)
    weights = np.asarray(arrays["weights"], dtype=np.float64)
    head = slice(head_top_vertex, head_top_vertex + 1)
    return {
        "v_template": np.concatenate([regressor @ np.asarray(arrays["v_template"], dtype=np.float64), np.asarray(arrays["v_template"], dtype=np.float64)[head]]),
        "shapedirs": np.concatenate([np.einsum("jv,vcb->jcb", regressor, shapedirs), shapedirs[head]]),
        "posedirs": np.concatenate([np.zeros((NUM_JOINTS, 3, posedirs.shape[2])), posedirs[head]]),  # joints come from the kinematic chain
        "J_regressor": np.eye(NUM_JOINTS, NUM_JOINTS + 1),
        "weights": np.concatenate([np.eye(NUM_JOINTS), weights[head]]),
        "kintree_table": arrays["kintree_table"],
        "f": np.array([[0, 1, NUM_JOINTS]], dtype=np.int64),
    }


class BodyModel(torch.nn.Module):
    """SMPL body model (24 joints) from the open .npz or a licensed SMPL .pkl.

    Args:
        model_path: .npz / .pkl / folder with SMPL_NEUTRAL.pkl; None = embedded open model.
        lsp_regressor_path: optional (14,V) .npy regressing LSP keypoints from vertices
            (HMR-style); without it, LSP keypoints = SMPL joints + the head-top vertex.
        head_top_vertex: override the head-top vertex index.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        lsp_regressor_path: str | Path | None = None,
        head_top_vertex: int | None = None,
    ) -> None:
        super().__init__()
        self.model_path = resolve_body_model_path(model_path)
        arrays = load_body_model_arrays(self.model_path)
        num_vertices = int(np.shape(arrays["v_template"])[0])
        if "face_keypoint_vertices" in arrays and "head_top_vertex" in arrays:  # the open model's landmarks
            nose, right_eye, left_eye, right_ear, left_ear = (int(i) for i in np.asarray(arrays["face_keypoint_vertices"]))
            face_vertex_ids = {"nose": nose, "reye": right_eye, "leye": left_eye, "rear": right_ear, "lear": left_ear}
            default_head_top = int(np.asarray(arrays["head_top_vertex"]))
        elif num_vertices == SMPL_NUM_VERTICES:
            face_vertex_ids = {key: SMPLX_VERTEX_IDS["smplh"][key] for key in ("nose", "reye", "leye", "rear", "lear")}
            default_head_top = SMPL_HEAD_TOP_VERTEX
        else:
            raise BodyModelError(
                f"body model {self.model_path} has {num_vertices} vertices and no 'head_top_vertex'/'face_keypoint_vertices' "
                f"keys: only SMPL's {SMPL_NUM_VERTICES}-vertex topology has known landmarks. {_FIX_HINT}"
            )
        self.smpl = _smplx_model(self.model_path, arrays, face_vertex_ids)
        self.num_vertices = int(self.smpl.v_template.shape[0])
        self.faces = np.asarray(arrays["f"], dtype=np.int64)

        self.head_top_vertex = default_head_top if head_top_vertex is None else int(head_top_vertex)
        if not 0 <= self.head_top_vertex < self.num_vertices:
            raise ValueError(f"head_top_vertex={self.head_top_vertex} is outside the mesh of {self.model_path} ({self.num_vertices} vertices)")
        self.register_buffer("lsp_joint_indices", torch.tensor(LSP_FROM_SMPL_JOINTS, dtype=torch.long), persistent=False)
        self.lsp_regressor: torch.Tensor | None
        if lsp_regressor_path is None:
            self.register_buffer("lsp_regressor", None, persistent=False)
            # the same model reduced to its 24 joints and the head-top vertex: LSP keypoints without the mesh
            self.skeleton = _smplx_model(self.model_path, _skeleton_arrays(arrays, self.head_top_vertex), dict.fromkeys(face_vertex_ids, NUM_JOINTS))
        else:
            self.register_buffer("lsp_regressor", self._load_lsp_regressor(Path(lsp_regressor_path)), persistent=False)
            self.skeleton = None  # keypoints regressed from all vertices: no shortcut

    def _load_lsp_regressor(self, path: Path) -> torch.Tensor:
        if not path.is_file():
            raise FileNotFoundError(f"LSP joint regressor not found: {path}. Pass a (14, {self.num_vertices}) .npy or leave it unset.")
        regressor = np.load(path, allow_pickle=False)
        if regressor.shape != (len(LSP_JOINT_NAMES), self.num_vertices):
            raise BodyModelError(f"LSP joint regressor {path} has shape {regressor.shape}, expected (14, {self.num_vertices}) for {self.model_path}")
        return torch.as_tensor(regressor, dtype=torch.float32)

    @property
    def faces_tensor(self) -> torch.Tensor:
        """Faces (F,3) long, on the model's device."""
        return self.smpl.faces_tensor

    def forward(self, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor, with_vertices: bool = True) -> BodyModelOutput:
        """Pose and shape the model.

        global_orient (B,3) and body_pose (B,69) axis-angle radians, betas (B,10).
        ``with_vertices=False`` poses only the skeleton (joints, LSP keypoints, rotations — the
        same values, without skinning the whole mesh; what the critic needs), unless LSP
        keypoints are regressed from the vertices.
        """
        batch_size = global_orient.shape[0]
        pose_axis_angle = torch.cat([global_orient, body_pose], dim=1).reshape(batch_size, NUM_JOINTS, 3)
        rotation_matrices = axis_angle_to_rotation_matrix(pose_axis_angle)
        skeleton_only = not with_vertices and self.skeleton is not None
        smpl_output = (self.skeleton if skeleton_only else self.smpl)(
            betas=betas,
            global_orient=rotation_matrices[:, :1],
            body_pose=rotation_matrices[:, 1:],
            pose2rot=False,
        )
        joints = smpl_output.joints[:, :NUM_JOINTS]
        if skeleton_only:
            keypoints_lsp = torch.cat([joints[:, self.lsp_joint_indices], smpl_output.vertices[:, NUM_JOINTS:]], dim=1)
            return BodyModelOutput(vertices=None, joints=joints, keypoints_lsp=keypoints_lsp, rotation_matrices=rotation_matrices)
        vertices = smpl_output.vertices
        if self.lsp_regressor is not None:
            keypoints_lsp = torch.einsum("kv,bvc->bkc", self.lsp_regressor.to(vertices.dtype), vertices)
        else:
            head_top = vertices[:, self.head_top_vertex : self.head_top_vertex + 1]
            keypoints_lsp = torch.cat([joints[:, self.lsp_joint_indices], head_top], dim=1)
        return BodyModelOutput(vertices=vertices, joints=joints, keypoints_lsp=keypoints_lsp, rotation_matrices=rotation_matrices)
