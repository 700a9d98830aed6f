"""Reader for the generated dataset's 3D truth, ``truth_3d.npz`` (real LSP has none).

Keys per layout prefix (``lsp_``, ``lspet_``), N = images in that joints.mat:
``pose`` (N,72) SMPL axis-angle (global orientation first), ``betas`` (N,10), ``joints_3d``
(N,14,3) LSP keypoints in metres in the body model's frame after the global rotation,
``pixels_per_metre`` (N,) and ``offset_px`` (N,2) of the orthographic camera
(``keypoint_px = pixels_per_metre · joints_3d[:, :2] + offset_px``, continuous pixels),
``image_size`` (N,2) width, height, and ``visible`` (N,14) the depth-test visibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.lsp import Layout
from hybridlib.skeleton import NUM_BETAS, NUM_JOINTS, NUM_LSP_KEYPOINTS

TRUTH_FILE_NAME = "truth_3d.npz"
_SHAPES = {
    "pose": (3 * NUM_JOINTS,),
    "betas": (NUM_BETAS,),
    "joints_3d": (NUM_LSP_KEYPOINTS, 3),
    "pixels_per_metre": (),
    "offset_px": (2,),
    "image_size": (2,),
}


@dataclass(frozen=True)
class Truth3D:
    """3D truth of one layout, indexed like its joints.mat (see the module docstring)."""

    pose: np.ndarray
    betas: np.ndarray
    joints_3d: np.ndarray
    pixels_per_metre: np.ndarray
    offset_px: np.ndarray
    image_size: np.ndarray

    def __len__(self) -> int:
        return len(self.pose)


def read_truth_3d(path: str | Path, layout: Layout) -> Truth3D:
    """The ``layout`` ("lsp" / "lspet") part of a ``truth_3d.npz``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: 3D truth exists only for generated data (python -m hybridlib.data.generate --out DIR)"
        )
    with np.load(path, allow_pickle=False) as archive:
        missing = [f"{layout}_{key}" for key in _SHAPES if f"{layout}_{key}" not in archive.files]
        if missing:
            raise DatasetFormatError(f"{path} lacks {missing}; regenerate it with python -m hybridlib.data.generate")
        arrays = {key: archive[f"{layout}_{key}"] for key in _SHAPES}
    count = len(arrays["pose"])
    for key, shape in _SHAPES.items():
        if arrays[key].shape != (count, *shape):
            raise DatasetFormatError(
                f"{path}: '{layout}_{key}' has shape {arrays[key].shape}, expected {(count, *shape)}; "
                "regenerate the file"
            )
    return Truth3D(
        **{key: value.astype(np.int64 if key == "image_size" else np.float32) for key, value in arrays.items()}
    )
