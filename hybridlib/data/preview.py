"""Contact sheets: cropped samples with their keypoints, skeleton and silhouette outline, to
look at a dataset (generated or real) before training on it.

    python -m hybridlib.data.preview --data DIR --out sheet.png [--count 16] [--split train]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from hybridlib.data.dataset import DataConfig, Sample, build_dataset
from hybridlib.data.transforms import denormalise_image
from hybridlib.rendering import tile_images, write_image
from hybridlib.skeleton import LEFT_HIP, LSP_BONES, LSP_JOINT_NAMES, RIGHT_HIP

# Bones drawn: the critic's 13 LSP bones and the line between the hips.
LSP_SKELETON = (*LSP_BONES, (RIGHT_HIP, LEFT_HIP))
_RIGHT, _LEFT, _CENTRE = (255, 80, 60), (60, 140, 255), (255, 220, 0)
SILHOUETTE_COLOUR = (255, 255, 255)


def _keypoint_colour(index: int) -> tuple[int, int, int]:
    name = LSP_JOINT_NAMES[index]
    return _RIGHT if name.startswith("right_") else _LEFT if name.startswith("left_") else _CENTRE


def draw_sample(sample: Sample) -> np.ndarray:
    """(S,S,3) uint8 RGB: the crop, its silhouette outline, bones and keypoints (filled =
    visible, ring = occluded/invisible; red = right, blue = left)."""
    image = denormalise_image(sample.image.permute(1, 2, 0).numpy()).copy()
    size = image.shape[0]
    if sample.silhouette is not None:
        contours, _ = cv2.findContours(
            sample.silhouette.numpy().astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(image, contours, -1, SILHOUETTE_COLOUR, 1, cv2.LINE_AA)
    keypoints = sample.keypoints_2d.numpy()
    pixels = (keypoints[:, :2] + 1.0) * (size / 2.0) - 0.5  # OpenCV pixel centres
    for start, end in LSP_SKELETON:
        if keypoints[start, 2] > 0 and keypoints[end, 2] > 0:
            cv2.line(
                image,
                tuple(np.round(pixels[start]).astype(int)),
                tuple(np.round(pixels[end]).astype(int)),
                _keypoint_colour(start),
                2,
                cv2.LINE_AA,
            )
    for index, ((x, y), visible) in enumerate(zip(pixels, keypoints[:, 2], strict=True)):
        cv2.circle(
            image, (int(round(x)), int(round(y))), 3, _keypoint_colour(index), -1 if visible > 0 else 1, cv2.LINE_AA
        )
    return image


def contact_sheet(dataset: torch.utils.data.Dataset, count: int = 16, columns: int = 4, seed: int = 0) -> np.ndarray:
    """Tile ``count`` samples drawn evenly over ``dataset`` (the first/last included) into one RGB image."""
    count = min(count, len(dataset))
    if count == 0:
        raise ValueError("the dataset is empty: nothing to draw")
    indices = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    return tile_images([draw_sample(dataset[int(index)]) for index in indices], columns)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, required=True, help="folder with lsp/, lsp_ext/, up-s1h/ (real or generated)"
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--lspet", action="store_true", help="include LSP extended (train split)")
    args = parser.parse_args(argv)
    dataset = build_dataset(DataConfig(root=args.data, use_lspet=args.lspet), args.split)
    path = write_image(args.out, contact_sheet(dataset, args.count))
    print(f"contact sheet of {min(args.count, len(dataset))} samples: {path.resolve()}")
    return path


if __name__ == "__main__":
    main()
