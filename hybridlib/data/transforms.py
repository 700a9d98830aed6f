"""Person-centred crops with the authors' augmentation, applied identically to the image,
its keypoints and its silhouette in one OpenCV warp.

Crop: the box of the visible keypoints is centred and its longest side scaled to
``person_size_px`` of the output (HMR's 150 of 224), times a scale jitter drawn from
``scale_jitter`` ([0.8, 1.23] as the authors); the centre is shifted by up to
±``translation_jitter_px`` (20 px at 224, scaled with the output size). Horizontal flipping
is optional and OFF by default; when on, half the crops are mirrored and the left/right
joints swapped (:data:`hybridlib.skeleton.LSP_FLIP_PERMUTATION`). Keypoints that leave the crop are marked
invisible. Images are ImageNet-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hybridlib.geometry import pixels_to_normalized
from hybridlib.skeleton import LSP_FLIP_PERMUTATION

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
REFERENCE_SIZE = 224


@dataclass(frozen=True)
class AugmentationConfig:
    """Crop and augmentation parameters (defaults: the authors'). ``augment`` False gives the
    deterministic validation crop (no jitter, no flip)."""

    image_size: int = 224
    person_size_px: float = 150.0  # at image_size 224; scaled with it
    translation_jitter_px: float = 20.0  # at image_size 224; scaled with it
    scale_jitter: tuple[float, float] = (0.8, 1.23)
    flip: bool = False
    augment: bool = True


@dataclass
class CropResult:
    """image (S,S,3) float32 ImageNet-normalised RGB; keypoints_2d (14,3) = x, y in [-1, 1] +
    visibility; silhouette (S,S) bool or None; affine (2,3) input → output continuous pixels."""

    image: np.ndarray
    keypoints_2d: np.ndarray
    silhouette: np.ndarray | None
    affine: np.ndarray


def crop_affine(
    keypoints_px: np.ndarray, visible: np.ndarray, config: AugmentationConfig, rng: np.random.Generator | None
) -> np.ndarray:
    """(2,3) affine from input to output continuous pixel coordinates for one sample.

    keypoints_px (14,2), visible (14,) bool; ``rng`` None or ``config.augment`` False → no jitter.
    """
    points = keypoints_px[visible] if visible.any() else keypoints_px
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2.0
    person_size = max(float((high - low).max()), 1.0)
    size_ratio = config.image_size / REFERENCE_SIZE
    scale = config.person_size_px * size_ratio / person_size
    shift = np.zeros(2)
    jitter = config.augment and rng is not None
    if jitter:
        scale *= rng.uniform(*config.scale_jitter)
        shift = rng.uniform(-config.translation_jitter_px, config.translation_jitter_px, size=2) * size_ratio
    affine = np.zeros((2, 3))
    affine[0, 0] = affine[1, 1] = scale
    affine[:, 2] = config.image_size / 2.0 + shift - scale * centre
    if jitter and config.flip and rng.uniform() < 0.5:
        affine[0] = -affine[0]
        affine[0, 2] += config.image_size
    return affine


def _opencv_affine(affine: np.ndarray) -> np.ndarray:
    """Continuous-pixel affine → OpenCV's (pixel centres at integers): out_cv = M in_cv + b'."""
    linear, offset = affine[:, :2], affine[:, 2]
    return np.concatenate([linear, (offset + linear @ np.full(2, 0.5) - 0.5)[:, None]], axis=1)


def crop_sample(
    image: np.ndarray,
    keypoints_px: np.ndarray,
    visible: np.ndarray,
    silhouette: np.ndarray | None,
    config: AugmentationConfig = AugmentationConfig(),
    rng: np.random.Generator | None = None,
) -> CropResult:
    """Crop one sample. image (H,W,3) uint8 RGB, keypoints_px (14,2) continuous pixels,
    visible (14,) bool, silhouette (H,W) bool or None."""
    affine = crop_affine(keypoints_px, visible, config, rng)
    size = (config.image_size, config.image_size)
    opencv_affine = _opencv_affine(affine)
    warped = cv2.warpAffine(image, opencv_affine, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    normalised = (warped.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD

    warped_silhouette = None
    if silhouette is not None:
        warped_silhouette = (
            cv2.warpAffine(silhouette.astype(np.uint8), opencv_affine, size, flags=cv2.INTER_NEAREST) > 0
        )

    keypoints_out = keypoints_px @ affine[:, :2].T + affine[:, 2]
    visible_out = visible & (keypoints_out >= 0).all(axis=1) & (keypoints_out < config.image_size).all(axis=1)
    keypoints_2d = np.concatenate(
        [pixels_to_normalized(keypoints_out, config.image_size), visible_out[:, None]], axis=1
    ).astype(np.float32)
    if affine[0, 0] < 0:  # mirrored: the person's left is now on the right
        keypoints_2d = keypoints_2d[list(LSP_FLIP_PERMUTATION)]
    return CropResult(image=normalised, keypoints_2d=keypoints_2d, silhouette=warped_silhouette, affine=affine)


def denormalise_image(image: np.ndarray) -> np.ndarray:
    """Inverse of the ImageNet normalisation: (S,S,3) float32 → uint8 RGB, for pictures."""
    return np.clip((image * IMAGENET_STD + IMAGENET_MEAN) * 255.0 + 0.5, 0, 255).astype(np.uint8)
