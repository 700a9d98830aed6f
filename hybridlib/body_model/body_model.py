"""SMPL-layout body model over ``smplx.SMPL``: the embedded open model (.npz) or a licensed
SMPL file (.pkl), through one code path.

``smplx.SMPL`` only reads pickles (with plain ``pickle.load``), so hybridlib reads the file
itself — the open ``.npz`` with ``allow_pickle=False``, a licensed ``.pkl`` through the
restricted unpickler of :mod:`hybridlib.safe_pickle` (no chumpy, no code execution) — and
hands the arrays to ``smplx.SMPL`` as its ``data_struct``.

The forward pass is smplx's linear blend skinning (its ``blend_shapes`` and
``batch_rigid_transform`` on its buffers) with three exact shortcuts that matter on a CPU:
the rest joints come from the joint regressor applied once to the template and the shape
directions (they are linear in β), the pose blend shapes are skipped when the model has none
(the open model's ``posedirs`` are all zero), and each vertex is skinned by its blended (3,4)
transform, applied coordinate by coordinate (autograd does the backward).
``tests/body_model/test_body_model.py`` checks values and gradients against ``smplx.SMPL``'s own
forward, with and without pose blend shapes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.lbs import batch_rigid_transform, blend_shapes
from smplx.utils import Struct
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from hybridlib.geometry import axis_angle_to_rotation_matrix
from hybridlib.safe_pickle import load_smpl_pickle
from hybridlib.skeleton import LSP_FROM_SMPL_JOINTS, NUM_BETAS, NUM_BODY_JOINTS, NUM_JOINTS, NUM_LSP_KEYPOINTS

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
OPEN_BODY_MODEL = ASSETS_DIR / "open_body_neutral.npz"
OPEN_BODY_MODEL_LITE = ASSETS_DIR / "open_body_neutral_lite.npz"

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
        raise BodyModelError(
            f"unsupported body model file {path}: expected .npz (open model) or .pkl (licensed SMPL). {_FIX_HINT}"
        )

    missing = sorted(set(REQUIRED_SHAPES) - set(arrays))
    if missing:
        raise BodyModelError(f"body model {path} lacks the SMPL keys {missing} (it has {sorted(arrays)}). {_FIX_HINT}")
    num_vertices = np.shape(arrays["v_template"])[0]
    for key, expected in REQUIRED_SHAPES.items():
        shape = tuple(np.shape(arrays[key]))
        wanted = tuple(num_vertices if dim == "V" else dim for dim in expected)
        if len(shape) != len(wanted) or any(w != "*" and w != s for w, s in zip(wanted, shape, strict=True)):
            raise BodyModelError(
                f"body model {path}: '{key}' has shape {shape}, expected {wanted} for a 24-joint SMPL "
                f"model with {num_vertices} vertices (SMPL-H/SMPL-X files are not SMPL). {_FIX_HINT}"
            )
    if np.shape(arrays["shapedirs"])[2] < NUM_BETAS:
        raise BodyModelError(
            f"body model {path}: shapedirs has {np.shape(arrays['shapedirs'])[2]} components, need ≥ {NUM_BETAS}. "
            f"{_FIX_HINT}"
        )
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
            nose, right_eye, left_eye, right_ear, left_ear = (
                int(i) for i in np.asarray(arrays["face_keypoint_vertices"])
            )
            face_vertex_ids = {"nose": nose, "reye": right_eye, "leye": left_eye, "rear": right_ear, "lear": left_ear}
            default_head_top = int(np.asarray(arrays["head_top_vertex"]))
        elif num_vertices == SMPL_NUM_VERTICES:
            face_vertex_ids = {key: SMPLX_VERTEX_IDS["smplh"][key] for key in ("nose", "reye", "leye", "rear", "lear")}
            default_head_top = SMPL_HEAD_TOP_VERTEX
        else:
            raise BodyModelError(
                f"body model {self.model_path} has {num_vertices} vertices and no "
                "'head_top_vertex'/'face_keypoint_vertices' "
                f"keys: only SMPL's {SMPL_NUM_VERTICES}-vertex topology has known landmarks. {_FIX_HINT}"
            )
        self.smpl = _smplx_model(self.model_path, arrays, face_vertex_ids)
        self.num_vertices = int(self.smpl.v_template.shape[0])
        self.faces = np.asarray(arrays["f"], dtype=np.int64)

        self.head_top_vertex = default_head_top if head_top_vertex is None else int(head_top_vertex)
        if not 0 <= self.head_top_vertex < self.num_vertices:
            raise ValueError(
                f"head_top_vertex={self.head_top_vertex} is outside the mesh of {self.model_path} "
                f"({self.num_vertices} vertices)"
            )
        self.register_buffer(
            "lsp_joint_indices", torch.tensor(LSP_FROM_SMPL_JOINTS, dtype=torch.long), persistent=False
        )
        self.lsp_regressor: torch.Tensor | None
        lsp_regressor = None if lsp_regressor_path is None else self._load_lsp_regressor(Path(lsp_regressor_path))
        self.register_buffer(
            "lsp_regressor", lsp_regressor, persistent=False
        )  # None: LSP keypoints = joints + head top
        # Rest joints are linear in β: J_regressor applied once to the template and to every shape direction.
        self.register_buffer("joint_template", self.smpl.J_regressor @ self.smpl.v_template, persistent=False)  # (24,3)
        self.register_buffer(
            "joint_shapedirs", torch.einsum("jv,vcb->jcb", self.smpl.J_regressor, self.smpl.shapedirs), persistent=False
        )  # (24,3,10)
        self.has_pose_blend_shapes = bool(self.smpl.posedirs.abs().max() > 0)  # False for the open model

    def _load_lsp_regressor(self, path: Path) -> torch.Tensor:
        if not path.is_file():
            raise FileNotFoundError(
                f"LSP joint regressor not found: {path}. Pass a (14, {self.num_vertices}) .npy or leave it unset."
            )
        regressor = np.load(path, allow_pickle=False)
        if regressor.shape != (NUM_LSP_KEYPOINTS, self.num_vertices):
            raise BodyModelError(
                f"LSP joint regressor {path} has shape {regressor.shape}, expected (14, {self.num_vertices}) for "
                f"{self.model_path}"
            )
        return torch.as_tensor(regressor, dtype=torch.float32)

    @property
    def faces_tensor(self) -> torch.Tensor:
        """Faces (F,3) long, on the model's device."""
        return self.smpl.faces_tensor

    def forward(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor, with_vertices: bool = True
    ) -> BodyModelOutput:
        """Pose and shape the model.

        global_orient (B,3) and body_pose (B,69) axis-angle radians, betas (B,10).
        ``with_vertices=False`` poses only the skeleton (joints, LSP keypoints, rotations — the
        same values, skinning only the head-top vertex instead of the whole mesh; what the
        critic needs), unless LSP keypoints are regressed from the vertices.
        """
        batch_size = global_orient.shape[0]
        pose_axis_angle = torch.cat([global_orient, body_pose], dim=1).reshape(batch_size, NUM_JOINTS, 3)
        rotation_matrices = axis_angle_to_rotation_matrix(pose_axis_angle)
        rest_joints = self.joint_template + torch.einsum("jcb,nb->njc", self.joint_shapedirs, betas)
        joints, transforms = batch_rigid_transform(
            rotation_matrices, rest_joints, self.smpl.parents, dtype=rest_joints.dtype
        )
        if not with_vertices and self.lsp_regressor is None:
            head = self.head_top_vertex
            head_top = self._skin(slice(head, head + 1), betas, rotation_matrices, transforms)
            keypoints_lsp = torch.cat([joints[:, self.lsp_joint_indices], head_top], dim=1)
            return BodyModelOutput(
                vertices=None, joints=joints, keypoints_lsp=keypoints_lsp, rotation_matrices=rotation_matrices
            )
        vertices = self._skin(slice(None), betas, rotation_matrices, transforms)
        if self.lsp_regressor is not None:
            keypoints_lsp = torch.einsum("kv,bvc->bkc", self.lsp_regressor.to(vertices.dtype), vertices)
        else:
            head_top = vertices[:, self.head_top_vertex : self.head_top_vertex + 1]
            keypoints_lsp = torch.cat([joints[:, self.lsp_joint_indices], head_top], dim=1)
        return BodyModelOutput(
            vertices=vertices, joints=joints, keypoints_lsp=keypoints_lsp, rotation_matrices=rotation_matrices
        )

    def _skin(
        self, vertex_ids: slice, betas: torch.Tensor, rotation_matrices: torch.Tensor, transforms: torch.Tensor
    ) -> torch.Tensor:
        """Posed vertices (B,n,3) of the ``vertex_ids`` slice of the mesh: shape blend shapes,
        pose blend shapes (when the model has any), then linear blend skinning with the joints'
        (B,24,4,4) ``transforms`` from ``batch_rigid_transform``."""
        batch_size = betas.shape[0]
        smpl = self.smpl
        shaped = smpl.v_template[vertex_ids] + blend_shapes(betas, smpl.shapedirs[vertex_ids])  # (B,n,3)
        if self.has_pose_blend_shapes:
            identity = torch.eye(3, dtype=rotation_matrices.dtype, device=rotation_matrices.device)
            pose_feature = (rotation_matrices[:, 1:] - identity).reshape(batch_size, -1)  # (B,207)
            posedirs = smpl.posedirs.reshape(smpl.posedirs.shape[0], -1, 3)[:, vertex_ids].reshape(
                smpl.posedirs.shape[0], -1
            )
            shaped = shaped + (pose_feature @ posedirs).reshape(batch_size, -1, 3)
        return linear_blend_skinning(smpl.lbs_weights[vertex_ids], transforms[:, :, :3, :], shaped)


def linear_blend_skinning(weights: torch.Tensor, transforms: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """posed (B,n,3) = Σ_k weights[v,k] · transforms[k] · [rest_v, 1], for skinning weights
    (n,24), the joints' (B,24,3,4) transforms and rest vertices (B,n,3). Each vertex's blended
    (3,4) transform comes from one matmul and is applied coordinate by coordinate with the
    vertices last ((B,3,4,n) and (B,3,n)): every product runs over n contiguous values, where a
    batched matmul of B·n tiny 3×4 matrices spent most of its time per matrix."""
    batch_size, num_joints = transforms.shape[:2]
    blended = (transforms.reshape(batch_size, num_joints, 12).transpose(1, 2) @ weights.T).reshape(batch_size, 3, 4, -1)
    rest_by_coordinate = rest.transpose(1, 2)  # (B,3,n)
    posed = (blended[:, :, :3] * rest_by_coordinate[:, None]).sum(dim=2) + blended[:, :, 3]  # (B,3,n)
    return posed.transpose(1, 2).contiguous()
