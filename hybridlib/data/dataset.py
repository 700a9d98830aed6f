"""The sample schema and the torch Dataset over LSP / LSP extended (+ UP-S1h silhouettes,
+ 3D truth where the data was generated).

One :class:`Sample` per image: ``image`` (3,S,S) ImageNet-normalised, ``keypoints_2d`` (14,3)
= x, y in [−1, 1] + visibility, ``silhouette`` (S,S) bool or None with ``has_silhouette``,
``silhouette_nearest`` (2,S,S) the distance transform's nearest-foreground indices for the fast
L_mr, and when known ``pose`` (72), ``betas`` (10), ``joints_3d`` (14,3) metres and ``camera`` (3)
= the weak-perspective (s, tx, ty) that projects ``joints_3d`` onto ``keypoints_2d`` in the
crop. :func:`collate_samples` stacks samples into a :class:`Batch` (zeros + ``has_*`` masks
where something is unknown), for ``DataLoader(collate_fn=collate_samples)``.

Cropping and augmentation (:mod:`hybridlib.data.transforms`) happen once per sample in
``__getitem__``, i.e. in DataLoader workers. The augmentation of sample ``i`` in epoch ``e``
is drawn from the random stream (seed, e, i): the same whatever the number of workers, so a
resumed run sees the same crops. A flipped crop drops the 3D truth (``has_3d`` False).

Bad input: a label whose image is missing is skipped at construction with a counted warning
(:mod:`hybridlib.data.lsp`); an image that exists but cannot be decoded (truncated or
corrupt JPEG) stops the run with a :class:`DatasetFormatError` naming the file — re-copy it,
or delete it to have its label skipped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from hybridlib.data.errors import DATA_HINT, DatasetFormatError
from hybridlib.data.folders import LSP_FOLDER, LSPET_FOLDER, UP_S1H_FOLDER
from hybridlib.data.lsp import KeypointSet, read_lsp, read_lspet
from hybridlib.data.transforms import AugmentationConfig, crop_sample
from hybridlib.data.truth import TRUTH_FILE_NAME, Truth3D, read_truth_3d
from hybridlib.data.up_s1h import find_silhouettes, read_silhouette
from hybridlib.geometry import nearest_foreground_indices
from hybridlib.skeleton import NUM_BETAS, NUM_JOINTS, NUM_LSP_KEYPOINTS


@dataclass
class Sample:
    """One cropped training/test sample (see the module docstring for shapes)."""

    image: torch.Tensor
    keypoints_2d: torch.Tensor
    silhouette: torch.Tensor | None
    silhouette_nearest: torch.Tensor | None = None
    pose: torch.Tensor | None = None
    betas: torch.Tensor | None = None
    joints_3d: torch.Tensor | None = None
    camera: torch.Tensor | None = None
    image_path: str = ""

    @property
    def has_silhouette(self) -> bool:
        return self.silhouette is not None

    @property
    def has_3d(self) -> bool:
        return self.joints_3d is not None


@dataclass
class Batch:
    """Stacked samples. image (B,3,S,S); keypoints_2d (B,14,3); silhouette (B,S,S) bool, all
    False where ``has_silhouette`` (B,) is False, with silhouette_nearest (B,2,S,S) int16
    (row, column of the nearest foreground pixel, for the fast L_mr); pose (B,72), betas (B,10), joints_3d
    (B,14,3), camera (B,3), zero where ``has_3d`` (B,) is False; image_paths (B,)."""

    image: torch.Tensor
    keypoints_2d: torch.Tensor
    silhouette: torch.Tensor
    silhouette_nearest: torch.Tensor
    has_silhouette: torch.Tensor
    pose: torch.Tensor
    betas: torch.Tensor
    joints_3d: torch.Tensor
    camera: torch.Tensor
    has_3d: torch.Tensor
    image_paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.image)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The batch with every tensor on ``device``."""
        moved = {
            item.name: getattr(self, item.name).to(device, non_blocking=non_blocking)
            for item in fields(self)
            if isinstance(getattr(self, item.name), torch.Tensor)
        }
        return replace(self, **moved)


def collate_samples(samples: list[Sample]) -> Batch:
    """Stack samples into a :class:`Batch`; unknown parts become zeros with a False mask."""
    first = samples[0]
    size = first.image.shape[-1]

    def stacked(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        return torch.stack(
            [getattr(s, name) if getattr(s, name) is not None else torch.zeros(shape, dtype=dtype) for s in samples]
        )

    return Batch(
        image=torch.stack([s.image for s in samples]),
        keypoints_2d=torch.stack([s.keypoints_2d for s in samples]),
        silhouette=stacked("silhouette", (size, size), torch.bool),
        silhouette_nearest=stacked("silhouette_nearest", (2, size, size), torch.int16),
        has_silhouette=torch.tensor([s.has_silhouette for s in samples]),
        pose=stacked("pose", (3 * NUM_JOINTS,), torch.float32),
        betas=stacked("betas", (NUM_BETAS,), torch.float32),
        joints_3d=stacked("joints_3d", (NUM_LSP_KEYPOINTS, 3), torch.float32),
        camera=stacked("camera", (3,), torch.float32),
        has_3d=torch.tensor([s.has_3d for s in samples]),
        image_paths=[s.image_path for s in samples],
    )


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to (H,W,3) uint8 RGB; an undecodable file raises a DatasetFormatError naming it.

    Other modes are converted as a viewer shows them: grey → three equal channels, RGBA → its
    RGB (alpha dropped), 16-bit grey → scaled to 8 bits (not clipped)."""
    try:
        with Image.open(path) as image:
            if image.mode.startswith("I"):  # 16/32-bit integer grey: PIL's own conversion would clip at 255
                grey = np.asarray(image, dtype=np.float64)
                peak = 65535.0 if image.mode.startswith("I;16") else max(float(grey.max()), 1.0)
                return np.repeat(np.clip(grey * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"image {path} disappeared after the dataset was opened; re-copy it or restart"
        ) from None
    except (OSError, ValueError) as error:  # PIL: truncated / corrupt / not an image
        raise DatasetFormatError(
            f"cannot decode image {path} ({error}): the file is truncated or corrupt. Re-copy it from the original "
            "release, or delete it: its label is then skipped with a warning"
        ) from error


def crop_camera(pixels_per_metre: float, offset_px: np.ndarray, affine: np.ndarray, crop_size: int) -> np.ndarray:
    """Weak-perspective camera (3,) = (s, tx, ty) of a crop, from the original image's
    orthographic camera (px = pixels_per_metre · X[:2] + offset_px) and the crop affine (2,3)
    (uniform scale, no flip)."""
    scale_px = affine[0, 0] * pixels_per_metre  # crop pixels per metre
    offset = affine[:, :2] @ offset_px + affine[:, 2]
    scale = 2.0 * scale_px / crop_size
    translation = (2.0 * offset / crop_size - 1.0) / scale
    return np.array([scale, *translation], np.float32)


class KeypointDataset(torch.utils.data.Dataset):
    """Cropped samples of one keypoint set, with optional silhouettes and 3D truth.

    keypoint_set: from :func:`read_lsp` / :func:`read_lspet`; silhouette_paths: one path or
    None per image (:func:`find_silhouettes`); truth: indexed like the joints.mat, or None;
    augmentation: crop parameters (``augment=False`` for validation); seed: augmentation seed.
    """

    def __init__(
        self,
        keypoint_set: KeypointSet,
        silhouette_paths: tuple[Path | None, ...] | None = None,
        truth: Truth3D | None = None,
        augmentation: AugmentationConfig = AugmentationConfig(),
        seed: int = 0,
    ) -> None:
        self.keypoint_set = keypoint_set
        self.silhouette_paths = silhouette_paths if silhouette_paths is not None else (None,) * len(keypoint_set)
        if len(self.silhouette_paths) != len(keypoint_set):
            raise ValueError(f"{len(self.silhouette_paths)} silhouette paths for {len(keypoint_set)} images")
        self.truth = truth
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Augmentation draws depend on (seed, epoch, index): call once per epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.keypoint_set)

    def __getitem__(self, index: int) -> Sample:
        keypoint_set = self.keypoint_set
        image_path = keypoint_set.image_paths[index]
        image = read_image(image_path)
        width, height = keypoint_set.image_sizes[index]
        if image.shape[:2] != (height, width):
            raise DatasetFormatError(
                f"image {image_path} is {image.shape[1]}×{image.shape[0]} now but was {width}×{height} when the "
                "dataset was opened"
            )
        silhouette_file = self.silhouette_paths[index]
        silhouette = read_silhouette(silhouette_file, (width, height)) if silhouette_file is not None else None
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.augmentation.augment else None
        crop = crop_sample(
            image, keypoint_set.keypoints_px[index], keypoint_set.visible[index], silhouette, self.augmentation, rng
        )

        sample = Sample(
            image=torch.from_numpy(np.ascontiguousarray(crop.image.transpose(2, 0, 1))),
            keypoints_2d=torch.from_numpy(crop.keypoints_2d),
            silhouette=torch.from_numpy(crop.silhouette) if crop.silhouette is not None else None,
            image_path=str(image_path),
        )
        if crop.silhouette is not None and crop.silhouette.any():
            sample.silhouette_nearest = torch.from_numpy(nearest_foreground_indices(crop.silhouette))
        elif crop.silhouette is not None:  # the person was cropped away entirely: nothing to compare
            sample.silhouette = None
        flipped = crop.affine[0, 0] < 0
        if self.truth is not None and not flipped:
            row = int(keypoint_set.source_indices[index])
            sample.pose = torch.from_numpy(self.truth.pose[row])
            sample.betas = torch.from_numpy(self.truth.betas[row])
            sample.joints_3d = torch.from_numpy(self.truth.joints_3d[row])
            camera = crop_camera(
                float(self.truth.pixels_per_metre[row]),
                self.truth.offset_px[row],
                crop.affine,
                self.augmentation.image_size,
            )
            sample.camera = torch.from_numpy(camera)
        return sample


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and what to use. ``root`` holds lsp/, lsp_ext/, up-s1h/, mosh/ (and
    truth_3d.npz for generated data); ``use_lspet`` adds LSP extended to training;
    ``use_silhouettes`` reads UP-S1h when present."""

    root: Path
    use_lspet: bool = False
    use_silhouettes: bool = True
    augmentation: AugmentationConfig = AugmentationConfig()


def build_dataset(config: DataConfig, split: Literal["train", "test"], seed: int = 0) -> torch.utils.data.Dataset:
    """Training set (LSP train [+ LSPET], augmented) or test set (LSP test, centred crops)."""
    root = Path(config.root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist. {DATA_HINT}")
    up_root = root / UP_S1H_FOLDER if config.use_silhouettes and (root / UP_S1H_FOLDER).is_dir() else None
    if config.use_silhouettes and up_root is None:
        warnings.warn(
            f"no {UP_S1H_FOLDER}/ folder in {root}: every sample is without silhouette, so L_mr has nothing to "
            "compare against",
            stacklevel=2,
        )
    truth_path = root / TRUTH_FILE_NAME
    augmentation = config.augmentation if split == "train" else replace(config.augmentation, augment=False)

    def part(keypoint_set: KeypointSet, layout: str) -> KeypointDataset:
        truth = read_truth_3d(truth_path, layout) if truth_path.is_file() else None  # type: ignore[arg-type]
        return KeypointDataset(keypoint_set, find_silhouettes(up_root, keypoint_set), truth, augmentation, seed)

    parts = [part(read_lsp(root / LSP_FOLDER, split), "lsp")]
    if split == "train" and config.use_lspet:
        parts.append(part(read_lspet(root / LSPET_FOLDER), "lspet"))
    return parts[0] if len(parts) == 1 else torch.utils.data.ConcatDataset(parts)


def set_dataset_epoch(dataset: torch.utils.data.Dataset, epoch: int) -> None:
    """Call ``set_epoch`` on a :class:`KeypointDataset`, through Subset and ConcatDataset wrappers."""
    if isinstance(dataset, torch.utils.data.Subset):
        set_dataset_epoch(dataset.dataset, epoch)
    elif isinstance(dataset, torch.utils.data.ConcatDataset):
        for part in dataset.datasets:
            set_dataset_epoch(part, epoch)
    else:
        dataset.set_epoch(epoch)
