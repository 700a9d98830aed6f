"""Contact sheets: a drawn sample's keypoints (red right, blue left, filled when visible, a ring
when not) and silhouette outline, and a sheet of several samples tiled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from hybridlib.data.dataset import DataConfig, build_dataset
from hybridlib.data.preview import contact_sheet, draw_sample
from hybridlib.data.preview import main as preview_main
from hybridlib.data.transforms import AugmentationConfig, denormalise_image
from hybridlib.skeleton import LSP_JOINT_NAMES

SIZE = 96


def _normalised(pixels: list[tuple[int, int]], size: int) -> torch.Tensor:
    """Keypoints (x, y, visible=1) in the crop's [-1, 1] coordinates whose drawn centres are ``pixels``."""
    return torch.tensor([[(x + 0.5) * 2 / size - 1, (y + 0.5) * 2 / size - 1, 1.0] for x, y in pixels])


def test_draw_sample_colours_right_keypoints_red_and_left_ones_blue(generated_root):
    sample = build_dataset(DataConfig(root=generated_root, augmentation=AugmentationConfig(image_size=SIZE)), "test")[0]
    original = sample.image.clone()
    # 13 visible keypoints 20 px apart in the upper half (no two circles touch), head top alone below them
    pixels = [(10 + 20 * (index % 5), 10 + 16 * (index // 5)) for index in range(13)] + [(80, 85)]
    keypoints = _normalised(pixels, SIZE)
    keypoints[13, 2] = 0.0  # head top invisible: a ring, its centre left as it was
    silhouette = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    silhouette[60:80, 20:50] = True  # away from every keypoint and bone
    image = draw_sample(replace(sample, keypoints_2d=keypoints, silhouette=silhouette))

    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert torch.equal(sample.image, original)  # drawn on a copy
    for index, (x, y) in enumerate(pixels[:13]):
        red, green, blue = (int(value) for value in image[y, x])
        name = LSP_JOINT_NAMES[index]
        if name.startswith("right_"):
            assert red > 200 and blue < 100, (name, image[y, x])
        elif name.startswith("left_"):
            assert blue > 200 and red < 100, (name, image[y, x])
        else:  # the neck: neither side
            assert red > 200 and green > 200 and blue < 100, (name, image[y, x])
    plain = denormalise_image(sample.image.permute(1, 2, 0).numpy())
    assert (image[85, 80] == plain[85, 80]).all()  # the invisible head top is not filled...
    assert not (image[85, 83] == plain[85, 83]).all()  # ...but ringed
    assert (image[60, 30] > 200).all() and (image[79, 30] > 200).all()  # the silhouette's outline, white
    assert (image[70, 35] == plain[70, 35]).all()  # its inside is not filled


def test_contact_sheet_tiles_drawn_samples(generated_root, tmp_path):
    dataset = build_dataset(DataConfig(root=generated_root, augmentation=AugmentationConfig(image_size=96)), "test")
    sheet = contact_sheet(dataset, count=5, columns=3)
    assert sheet.shape == (2 * 96, 3 * 96, 3) and sheet.dtype == np.uint8
    assert sheet[:, : 2 * 96].std() > 10 and not sheet[96:, 2 * 96 :].any()  # 5 tiles, then black
    path = preview_main(["--data", str(generated_root), "--out", str(tmp_path / "sheet.png"), "--count", "4"])
    assert path.is_file() and path.stat().st_size > 1000
