"""Reader for UP-S1h silhouettes ("Unite the People"), read unchanged from disk.

``up-s1h/data/lsp/im0001_segmentation.png`` (one channel) for LSP and
``up-s1h/data/lsp_extended/im00001_segmentation.png`` (three channels; channel 0 is used) for
LSP extended; foreground is any value > 0. Only some LSPET images have one (the paper used
8,642 of 10,000). Images without a silhouette keep their keypoints (L_kpr) and are skipped by
L_mr — a missing silhouette is never replaced by a blank mask.

Bad input: a silhouette whose size differs from its image is refused (naming both files); an
all-zero silhouette is treated as missing, with a counted warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.folders import UP_S1H_SUBFOLDERS
from hybridlib.data.lsp import KeypointSet, Layout


def silhouette_path(up_root: str | Path, layout: Layout, image_path: str | Path) -> Path:
    """Where UP-S1h keeps the silhouette of an LSP/LSPET image (imNNNN.jpg → imNNNN_segmentation.png)."""
    return Path(up_root) / UP_S1H_SUBFOLDERS[layout] / f"{Path(image_path).stem}_segmentation.png"


def read_silhouette(path: str | Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Silhouette (H,W) bool from a UP-S1h PNG (any mode; channel 0 of multi-channel files).

    ``image_size`` (width, height) of the image it belongs to: a different size is refused.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image)
    except FileNotFoundError:
        raise
    except Exception as error:  # PIL raises several types for corrupt files
        raise DatasetFormatError(
            f"cannot read silhouette {path} ({error}); re-copy it from the UP-S1h release"
        ) from error
    if pixels.ndim == 3:
        pixels = pixels[..., 0]
    height, width = pixels.shape
    if image_size is not None and (width, height) != tuple(image_size):
        raise DatasetFormatError(
            f"silhouette {path} is {width}×{height} but its image {path.name.replace('_segmentation.png', '.jpg')} "
            f"is {image_size[0]}×{image_size[1]}; "
            "UP-S1h silhouettes are pixel-aligned with the original images: use the matching file, unresized"
        )
    return pixels > 0


def find_silhouettes(up_root: str | Path | None, keypoint_set: KeypointSet) -> tuple[Path | None, ...]:
    """For each image of ``keypoint_set``, its UP-S1h silhouette path, or None where it has none
    (no file, or an all-zero mask: counted in one warning). ``up_root`` None → all None."""
    if up_root is None:
        return (None,) * len(keypoint_set)
    up_root = Path(up_root)
    if not up_root.is_dir():
        raise FileNotFoundError(
            f"UP-S1h folder {up_root} does not exist: it should hold data/lsp/ and data/lsp_extended/ as released, "
            "or pass no silhouette folder"
        )
    layout: Layout = keypoint_set.name  # type: ignore[assignment]
    found: list[Path | None] = []
    blank: list[str] = []
    for image_path, (width, height) in zip(keypoint_set.image_paths, keypoint_set.image_sizes.tolist(), strict=True):
        path = silhouette_path(up_root, layout, image_path)
        if not path.is_file():
            found.append(None)
        elif not read_silhouette(path, (width, height)).any():
            blank.append(path.name)
            found.append(None)
        else:
            found.append(path)
    if blank:
        warnings.warn(
            f"UP-S1h {up_root}: {len(blank)} all-zero silhouettes treated as missing (e.g. {blank[:3]})", stacklevel=2
        )
    return tuple(found)
