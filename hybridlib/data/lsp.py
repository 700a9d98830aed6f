"""Readers for the Leeds Sports Pose releases, read unchanged from disk.

- LSP: ``images/im0001.jpg … im2000.jpg`` and ``joints.mat`` with ``joints`` of shape
  3×14×N (x, y, flag), flag 1 = OCCLUDED; the first 1000 images train, the last 1000 test.
- LSP extended: ``images/im00001.jpg … im10000.jpg`` and ``joints.mat`` with ``joints`` of
  shape 14×3×N, flag 1 = VISIBLE. Some joints are missing (coordinates zero or outside the
  image): they are marked invisible, never kept as a point at (0, 0).

Joint order (both): R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow,
R shoulder, L shoulder, L elbow, L wrist, neck, head top.

Coordinates in the files are MATLAB pixel coordinates (1-based: the first pixel's centre is
at 1). hybridlib uses continuous pixel coordinates (the first pixel spans [0, 1], its centre
at 0.5), so readers subtract :data:`MATLAB_PIXEL_OFFSET` and writers add it back.

Bad input: a missing folder/file, a wrong key or shape, non-finite coordinates or flags
outside {0, 1} refuse the whole dataset (the file is not what it claims to be); a label whose
image is missing is skipped with a counted warning; images without a label are ignored with a
counted warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io
from PIL import Image

from hybridlib.data.errors import DATA_HINT, DatasetFormatError
from hybridlib.data.folders import KEYPOINT_SET_FOLDERS
from hybridlib.skeleton import NUM_LSP_KEYPOINTS

MATLAB_PIXEL_OFFSET = 0.5

Layout = Literal["lsp", "lspet"]
_LAYOUTS: dict[str, dict] = {
    # joints array axes, image-name digits, whether flag 1 means visible
    "lsp": {
        "shape": "3×14×N",
        "name_digits": 4,
        "flag_means_visible": False,
        "reader": "read_lsp",
        "folder": KEYPOINT_SET_FOLDERS["lsp"],
    },
    "lspet": {
        "shape": "14×3×N",
        "name_digits": 5,
        "flag_means_visible": True,
        "reader": "read_lspet",
        "folder": KEYPOINT_SET_FOLDERS["lspet"],
    },
}


@dataclass(frozen=True)
class KeypointSet:
    """2D keypoint labels of one dataset (split).

    image_paths: N image files; keypoints_px (N,14,2) float32 continuous pixel coordinates;
    visible (N,14) bool; image_sizes (N,2) int (width, height); source_indices (N,) the
    0-based position of each label in its joints.mat.
    """

    name: str
    image_paths: tuple[Path, ...]
    keypoints_px: np.ndarray
    visible: np.ndarray
    image_sizes: np.ndarray
    source_indices: np.ndarray

    def __len__(self) -> int:
        return len(self.image_paths)


def image_name(index: int, layout: Layout) -> str:
    """File name of the 0-based ``index``-th image: im0001.jpg (LSP), im00001.jpg (LSPET)."""
    return f"im{index + 1:0{_LAYOUTS[layout]['name_digits']}d}.jpg"


def read_joints_mat(path: Path, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``joints.mat`` as released.

    Returns keypoints (N,14,2) float32 in continuous pixel coordinates (not yet checked
    against image bounds) and visible (N,14) bool from the file's flags.
    """
    path = Path(path)
    spec = _LAYOUTS[layout]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the {layout.upper()} labels are missing. {DATA_HINT}")
    try:
        contents = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises several types for corrupt files
        raise DatasetFormatError(
            f"cannot read {path} as a MATLAB file ({error}); re-copy it from the original {layout.upper()} release"
        ) from error
    if "joints" not in contents:
        keys = sorted(key for key in contents if not key.startswith("__"))
        raise DatasetFormatError(
            f"{path} has no 'joints' array (it has {keys}); the {layout.upper()} release stores its labels as "
            f"'joints' of shape {spec['shape']}"
        )
    joints = np.asarray(contents["joints"], dtype=np.float64)

    if layout == "lsp":
        expected_ok = joints.ndim == 3 and joints.shape[:2] == (3, NUM_LSP_KEYPOINTS)
        transposed = joints.ndim == 3 and joints.shape[:2] == (NUM_LSP_KEYPOINTS, 3)
        per_image = joints.transpose(2, 1, 0) if expected_ok else None  # (N,14,3)
    else:
        expected_ok = joints.ndim == 3 and joints.shape[:2] == (NUM_LSP_KEYPOINTS, 3)
        transposed = joints.ndim == 3 and joints.shape[:2] == (3, NUM_LSP_KEYPOINTS)
        per_image = joints.transpose(2, 0, 1) if expected_ok else None
    if not expected_ok:
        other = "lspet" if layout == "lsp" else "lsp"
        hint = (
            f" It has the {other.upper()} layout {_LAYOUTS[other]['shape']}: put it under "
            f"{_LAYOUTS[other]['folder']}/ (read by {_LAYOUTS[other]['reader']})."
            if transposed
            else f" Re-copy it from the original {layout.upper()} release."
        )
        raise DatasetFormatError(
            f"{path}: 'joints' has shape {joints.shape}, expected {spec['shape']} for {layout.upper()}.{hint}"
        )

    coordinates, flags = per_image[..., :2], per_image[..., 2]
    if not np.isfinite(coordinates).all():
        image_index, joint_index = np.argwhere(~np.isfinite(coordinates).all(axis=-1))[0]
        raise DatasetFormatError(
            f"{path}: non-finite coordinates (NaN/inf) for image {image_name(int(image_index), layout)}, "
            f"joint {joint_index}; the file is corrupt: re-copy it from the original release (missing joints are "
            "written as 0 or outside the image, never NaN)"
        )
    if not np.isin(flags, (0.0, 1.0)).all():
        bad = np.unique(flags[~np.isin(flags, (0.0, 1.0))])[:5]
        raise DatasetFormatError(
            f"{path}: visibility flags must be 0 or 1, found {bad.tolist()}; this is not an unmodified "
            f"{layout.upper()} joints.mat"
        )
    visible = flags == 1.0 if spec["flag_means_visible"] else flags == 0.0
    return (coordinates - MATLAB_PIXEL_OFFSET).astype(np.float32), visible


MOST_LABELS_DROPPED = 0.5  # refuse a folder where more than this share of the labels has no image
MOSTLY_OUTSIDE = 0.5  # refuse labels when more than this share of the visible keypoints lies outside its image
CROWDED_CORNER = 0.25  # … or when the keypoints' extent is below this share of the image (median over images)


def _inside_image(keypoints: np.ndarray, image_sizes: np.ndarray) -> np.ndarray:
    """(N,14) whether each keypoint (N,14,2) px lies in its image, image_sizes (N,2) (width, height)."""
    return ((keypoints >= 0) & (keypoints < image_sizes[:, None, :])).all(axis=-1)


def _check_labels_fit_images(
    root: Path, layout: Layout, keypoints: np.ndarray, visible: np.ndarray, image_sizes: np.ndarray
) -> None:
    """Refuse labels drawn on images of another size than these (LSP: the joints.mat of
    lsp_dataset_original beside the scaled images, or the reverse). keypoints (N,14,2) px,
    visible (N,14) as flagged, image_sizes (N,2) (width, height)."""
    if not visible.any():
        return
    size = image_sizes[:, None, :].astype(np.float64)
    outside = ~_inside_image(keypoints, image_sizes) & visible
    outside_share = outside.sum() / visible.sum()
    labelled = visible.any(axis=1)
    extent = np.where(visible[..., None], keypoints / size, 0.0).max(axis=(1, 2))[labelled]
    median_extent = float(np.median(extent))
    if outside_share <= MOSTLY_OUTSIDE and median_extent >= CROWDED_CORNER:
        return
    if outside_share > MOSTLY_OUTSIDE:
        found = f"{outside_share:.0%} of the visible keypoints lie outside their image"
        cause = (
            "the labels belong to larger images: the joints.mat of lsp_dataset_original (about 1000 px) beside the "
            "scaled LSP images (about 100-160 px)"
            if layout == "lsp"
            else "the labels belong to larger images than these"
        )
    else:
        found = f"the keypoints span only {median_extent:.0%} of their image (median over images)"
        cause = (
            "the labels belong to smaller images: the scaled LSP joints.mat beside the original-resolution images "
            "of lsp_dataset_original"
            if layout == "lsp"
            else "the labels belong to smaller images than these"
        )
    raise DatasetFormatError(
        f"{root / 'joints.mat'} does not fit the images in {root / 'images'}: {found} (the keypoints reach "
        f"{median_extent:.2f}x their image's size, median over images). Likely cause: {cause}. Put each "
        "joints.mat beside the images it was drawn on (the same release folder)"
    )


def _read_keypoint_set(root: Path, layout: Layout, select: Callable[[int], np.ndarray]) -> KeypointSet:
    """Read a release folder; ``select(num_labels)`` picks the 0-based label indices to keep."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{layout.upper()} folder {root} does not exist. {DATA_HINT}")
    image_dir = root / "images"
    if not image_dir.is_dir():
        raise FileNotFoundError(
            f"{image_dir} does not exist: the {layout.upper()} images belong in images/{image_name(0, layout)} …. "
            f"{DATA_HINT}"
        )
    keypoints, visible = read_joints_mat(root / "joints.mat", layout)
    num_labels = len(keypoints)
    indices = select(num_labels)

    kept, sizes, missing = [], [], []
    for index in indices.tolist():
        path = image_dir / image_name(index, layout)
        try:
            with Image.open(path) as image:  # reads the header only
                sizes.append(image.size)
            kept.append(index)
        except FileNotFoundError:
            missing.append(path.name)
        except (OSError, ValueError) as error:  # PIL: not an image, or cut inside its header
            raise DatasetFormatError(
                f"cannot read image {path} ({error}): the file is truncated or corrupt. Re-copy it from the original "
                f"{layout.upper()} release, or delete it: its label is then skipped with a warning"
            ) from error
    if kept and len(missing) > MOST_LABELS_DROPPED * len(indices):
        raise DatasetFormatError(
            f"{root / 'joints.mat'}: {len(missing)} of its {len(indices)} labelled images are missing from "
            f"{image_dir} (e.g. {missing[:3]}): training would drop most labels. Copy the whole images/ folder of "
            f"the {layout.upper()} release beside its joints.mat"
        )
    if missing:
        warnings.warn(
            f"{layout.upper()} {root}: skipped {len(missing)} labels whose image is missing (e.g. {missing[:3]})",
            stacklevel=3,
        )
    expected_names = {image_name(index, layout) for index in range(num_labels)}
    unlabelled = [path.name for path in image_dir.glob("im*.jpg") if path.name not in expected_names]
    if unlabelled:
        warnings.warn(
            f"{layout.upper()} {root}: ignored {len(unlabelled)} images without a label in joints.mat (e.g. "
            f"{sorted(unlabelled)[:3]})",
            stacklevel=3,
        )
    if not kept:
        raise FileNotFoundError(f"{image_dir}: none of the {len(indices)} labelled images exist. {DATA_HINT}")

    kept_indices = np.asarray(kept, dtype=np.int64)
    image_sizes = np.asarray(sizes, dtype=np.int64)
    keypoints, visible = keypoints[kept_indices], visible[kept_indices].copy()
    _check_labels_fit_images(root, layout, keypoints, visible, image_sizes)
    # Missing joints (written as 0 or outside the image) are invisible, never a point at (0, 0).
    written_as_zero = (keypoints == -MATLAB_PIXEL_OFFSET).all(axis=-1)
    visible &= _inside_image(keypoints, image_sizes) & ~written_as_zero
    return KeypointSet(
        name=layout,
        image_paths=tuple(image_dir / image_name(index, layout) for index in kept),
        keypoints_px=keypoints,
        visible=visible,
        image_sizes=image_sizes,
        source_indices=kept_indices,
    )


def read_lsp(root: str | Path, split: Literal["train", "test", "all"] = "train") -> KeypointSet:
    """LSP from ``root`` (holding images/ and joints.mat): first half train, second half test."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    select = {
        "train": lambda num_labels: np.arange(num_labels // 2),
        "test": lambda num_labels: np.arange(num_labels // 2, num_labels),
        "all": np.arange,
    }[split]
    return _read_keypoint_set(Path(root), "lsp", select)


def read_lspet(root: str | Path) -> KeypointSet:
    """LSP extended from ``root`` (holding images/ and joints.mat); all of it is training data."""
    return _read_keypoint_set(Path(root), "lspet", np.arange)
