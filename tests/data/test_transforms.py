"""Crops and augmentation: image, keypoints and silhouette move together."""

import numpy as np
import pytest

from hybridlib.data.transforms import AugmentationConfig, crop_affine, crop_sample, denormalise_image
from hybridlib.skeleton import LSP_FLIP_PERMUTATION


def scene(rng: np.random.Generator, width=300, height=200):
    """An image with a white disc at each keypoint, and a silhouette = the discs."""
    keypoints = rng.uniform((60, 40), (240, 160), size=(14, 2))
    image = np.zeros((height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    silhouette = np.zeros((height, width), bool)
    for x, y in keypoints:
        disc = (xx - x) ** 2 + (yy - y) ** 2 <= 4.0**2
        image[disc] = 255
        silhouette |= disc
    return image, keypoints, silhouette


def test_validation_crop_centres_the_person_at_150_of_224():
    keypoints = np.array([[100.0, 50.0], [100.0, 350.0]] + [[100.0, 200.0]] * 12)
    affine = crop_affine(keypoints, np.ones(14, bool), AugmentationConfig(augment=False), None)
    out = keypoints @ affine[:, :2].T + affine[:, 2]
    assert np.allclose(out[0], [112, 112 - 75]) and np.allclose(out[1], [112, 112 + 75])


@pytest.mark.parametrize("flip", [False, True])
def test_image_keypoints_and_silhouette_move_together(flip):
    rng = np.random.default_rng(0)
    image, keypoints, silhouette = scene(rng)
    config = AugmentationConfig(flip=flip)
    flipped_seen = False
    for seed in range(6):
        result = crop_sample(image, keypoints, np.ones(14, bool), silhouette, config, np.random.default_rng(seed))
        mirrored = result.affine[0, 0] < 0
        flipped_seen |= mirrored
        pixels = (result.keypoints_2d[:, :2] + 1.0) * 112.0
        restored = denormalise_image(result.image)
        for x, y, visible in zip(pixels[:, 0], pixels[:, 1], result.keypoints_2d[:, 2], strict=True):
            if visible:
                row, col = int(y), int(x)
                assert restored[row, col].min() > 200, "the image disc must be under the keypoint"
                assert result.silhouette[row, col], "the silhouette must be under the keypoint"
        if mirrored:  # left/right swapped: keypoint k now comes from its mirror joint
            direct = keypoints @ result.affine[:, :2].T + result.affine[:, 2]
            assert np.allclose(pixels, direct[list(LSP_FLIP_PERMUTATION)], atol=1e-4)
    assert flipped_seen == flip


def test_jitter_stays_within_the_authors_ranges():
    keypoints = np.array([[0.0, 0.0], [0.0, 300.0]] + [[0.0, 150.0]] * 12)
    base = crop_affine(keypoints, np.ones(14, bool), AugmentationConfig(augment=False), None)
    rng = np.random.default_rng(1)
    scales, shifts = [], []
    for _ in range(400):
        affine = crop_affine(keypoints, np.ones(14, bool), AugmentationConfig(), rng)
        scales.append(affine[0, 0] / base[0, 0])
        shifts.append((keypoints[2] @ affine[:, :2].T + affine[:, 2]) - 112.0)
    assert 0.8 <= min(scales) < 0.83 and 1.2 < max(scales) <= 1.23
    assert np.abs(shifts).max() <= 20.0 and np.abs(shifts).max() > 18.0


def test_keypoints_leaving_the_crop_become_invisible_and_resolution_is_a_parameter():
    image, keypoints, silhouette = scene(np.random.default_rng(2))
    keypoints[3] = (-500.0, 20.0)
    visible = np.ones(14, bool)
    visible[3] = False  # invisible labels do not define the box...
    result = crop_sample(image, keypoints, visible, silhouette, AugmentationConfig(image_size=128, augment=False))
    assert result.image.shape == (128, 128, 3) and result.silhouette.shape == (128, 128)
    assert result.keypoints_2d[3, 2] == 0  # ...and stay invisible
    assert np.abs(result.keypoints_2d[result.keypoints_2d[:, 2] == 1, :2]).max() <= 1.0
    no_silhouette = crop_sample(image, keypoints, visible, None, AugmentationConfig(augment=False))
    assert no_silhouette.silhouette is None


def test_imagenet_normalisation_round_trips():
    image, keypoints, _ = scene(np.random.default_rng(3))
    result = crop_sample(image, keypoints, np.ones(14, bool), None, AugmentationConfig(augment=False))
    assert abs(float(result.image[..., 0].min()) - (0 - 0.485) / 0.229) < 1e-4
    assert set(np.unique(denormalise_image(result.image))) <= set(range(256))
