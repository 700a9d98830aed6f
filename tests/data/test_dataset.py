"""The sample schema, crops with 3D truth, DataLoader batching and bad image files."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch

from hybridlib.data.dataset import DataConfig, KeypointDataset, build_dataset, collate_samples, set_dataset_epoch
from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.lsp import read_lsp
from hybridlib.data.transforms import AugmentationConfig
from hybridlib.data.truth import read_truth_3d
from hybridlib.geometry import weak_perspective_projection


def test_samples_follow_the_schema(generated_root):
    dataset = build_dataset(DataConfig(root=generated_root, use_lspet=True), "train")
    sample = dataset[0]
    assert sample.image.shape == (3, 224, 224) and sample.image.dtype == torch.float32
    assert sample.keypoints_2d.shape == (14, 3)
    assert sample.silhouette.shape == (224, 224) and sample.silhouette.dtype == torch.bool and sample.has_silhouette
    assert (
        sample.pose.shape == (72,)
        and sample.betas.shape == (10,)
        and sample.joints_3d.shape == (14, 3)
        and sample.camera.shape == (3,)
    )
    visible = sample.keypoints_2d[:, 2] > 0
    assert (sample.keypoints_2d[visible, :2].abs() <= 1).all()
    assert len(dataset) == 6 + 14  # LSP train half + all of LSPET


def test_crop_camera_projects_the_3d_truth_onto_the_cropped_keypoints(generated_root):
    dataset = build_dataset(
        DataConfig(root=generated_root, augmentation=AugmentationConfig(image_size=160)), "train", seed=3
    )
    for index in range(len(dataset)):
        sample = dataset[index]
        projected = weak_perspective_projection(sample.joints_3d[None], sample.camera[None])[0]
        torch.testing.assert_close(projected, sample.keypoints_2d[:, :2], atol=2e-3, rtol=0)


def test_silhouettes_are_cropped_with_the_image(generated_root):
    sample = build_dataset(DataConfig(root=generated_root), "test")[0]
    pixels = ((sample.keypoints_2d[:, :2] + 1) * 112).long().clamp(0, 223)
    visible = sample.keypoints_2d[:, 2] > 0
    inside = sample.silhouette[pixels[visible, 1], pixels[visible, 0]]
    assert inside.float().mean() > 0.8  # joints lie inside the body


def test_images_without_silhouette_keep_their_keypoints_and_are_masked_in_batches(generated_root):
    dataset = build_dataset(DataConfig(root=generated_root, use_lspet=True), "train")
    samples = [dataset[index] for index in range(len(dataset))]
    without = [sample for sample in samples if not sample.has_silhouette]
    assert len(without) == 14 - round(0.8642 * 14)
    batch = collate_samples(samples)
    assert batch.silhouette.shape == (len(samples), 224, 224)
    assert batch.has_silhouette.sum() == len(samples) - len(without)
    assert not batch.silhouette[~batch.has_silhouette].any()
    assert batch.has_3d.all() and batch.to("cpu").image.shape == batch.image.shape


def test_augmentation_is_the_same_with_any_number_of_workers_and_changes_per_epoch(generated_root):
    dataset = build_dataset(DataConfig(root=generated_root), "train", seed=5)

    def loader(workers):
        return torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=workers, collate_fn=collate_samples)

    in_process, in_workers = next(iter(loader(0))), next(iter(loader(2)))
    torch.testing.assert_close(in_process.image, in_workers.image)
    torch.testing.assert_close(in_process.keypoints_2d, in_workers.keypoints_2d)
    set_dataset_epoch(dataset, 1)
    assert not torch.equal(next(iter(loader(0))).keypoints_2d, in_process.keypoints_2d)


def test_test_split_crops_are_deterministic_and_flipped_crops_drop_the_3d_truth(generated_root):
    test_set = build_dataset(DataConfig(root=generated_root), "test")
    torch.testing.assert_close(test_set[1].image, test_set[1].image)
    flipping = KeypointDataset(
        read_lsp(generated_root / "lsp", "all"),
        truth=read_truth_3d(generated_root / "truth_3d.npz", "lsp"),
        augmentation=AugmentationConfig(flip=True),
    )
    samples = [flipping[index] for index in range(len(flipping))]
    assert any(not sample.has_3d for sample in samples) and any(sample.has_3d for sample in samples)


def test_a_truncated_jpeg_names_the_file_and_the_fix(generated_root, tmp_path):
    root = shutil.copytree(generated_root, tmp_path / "copy")
    image_path = root / "lsp" / "images" / "im0002.jpg"
    complete = image_path.read_bytes()
    image_path.write_bytes(complete[: len(complete) // 2])  # cut in the image data: found when decoded
    dataset = build_dataset(DataConfig(root=root), "train")
    with pytest.raises(DatasetFormatError, match=r"im0002\.jpg.*truncated or corrupt.*delete it"):
        dataset[1]
    image_path.write_bytes(complete[:100])  # cut in the header: found when the dataset opens
    with pytest.raises(DatasetFormatError, match=r"im0002\.jpg.*truncated or corrupt.*delete it"):
        build_dataset(DataConfig(root=root), "train")
    image_path.unlink()
    with pytest.warns(UserWarning, match="skipped 1 labels whose image is missing"):
        assert len(build_dataset(DataConfig(root=root), "train")) == 5


def test_missing_data_folder_says_how_to_get_data_and_missing_silhouettes_warn(generated_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="hybridlib.data.generate"):
        build_dataset(DataConfig(root=tmp_path / "nowhere"), "train")
    root = shutil.copytree(generated_root, tmp_path / "copy", ignore=shutil.ignore_patterns("up-s1h"))
    with pytest.warns(UserWarning, match="no up-s1h/ folder"):
        dataset = build_dataset(DataConfig(root=root), "train")
    assert not dataset[0].has_silhouette


def test_wrong_sample_sizes_are_refused(generated_root):
    keypoint_set = read_lsp(generated_root / "lsp", "all")
    with pytest.raises(ValueError, match="silhouette paths"):
        KeypointDataset(keypoint_set, silhouette_paths=(None,))
    resized = replace(keypoint_set, image_sizes=keypoint_set.image_sizes + 1)
    with pytest.raises(DatasetFormatError, match="when the dataset was opened"):
        KeypointDataset(resized)[0]
