"""LSP / LSP-extended readers on small files written the way the releases are (scipy.io)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.lsp import image_name, read_lsp, read_lspet

IMAGE_SIZES = [(120, 90), (64, 128), (100, 100), (80, 60)]  # (width, height)


def write_images(image_dir: Path, layout: str, sizes=IMAGE_SIZES) -> None:
    image_dir.mkdir(parents=True)
    for index, (width, height) in enumerate(sizes):
        Image.new("RGB", (width, height), (index * 40, 80, 120)).save(image_dir / image_name(index, layout), quality=90)


def matlab_keypoints(rng: np.random.Generator) -> np.ndarray:
    """(N,14,2) 1-based MATLAB pixel coordinates inside each image."""
    keypoints = np.empty((len(IMAGE_SIZES), 14, 2))
    for index, (width, height) in enumerate(IMAGE_SIZES):
        keypoints[index] = rng.uniform(1, (width, height), size=(14, 2))
    return keypoints


def write_lsp(root: Path, keypoints: np.ndarray, occluded: np.ndarray) -> None:
    write_images(root / "images", "lsp")
    joints = np.concatenate([keypoints, occluded[..., None]], axis=-1).transpose(2, 1, 0)  # 3×14×N
    scipy.io.savemat(root / "joints.mat", {"joints": joints})


def write_lspet(root: Path, keypoints: np.ndarray, visible: np.ndarray) -> None:
    write_images(root / "images", "lspet")
    joints = np.concatenate([keypoints, visible[..., None]], axis=-1).transpose(1, 2, 0)  # 14×3×N
    scipy.io.savemat(root / "joints.mat", {"joints": joints})


def test_image_names_are_one_based_and_zero_padded():
    assert image_name(0, "lsp") == "im0001.jpg" and image_name(1999, "lsp") == "im2000.jpg"
    assert image_name(0, "lspet") == "im00001.jpg" and image_name(9999, "lspet") == "im10000.jpg"


def test_lsp_flag_one_means_occluded_and_the_split_is_half_and_half(tmp_path):
    rng = np.random.default_rng(0)
    keypoints = matlab_keypoints(rng)
    occluded = rng.integers(0, 2, size=(4, 14)).astype(float)
    keypoints[3, 5] = (500.0, 20.0)  # outside the 80×60 image: invisible whatever the flag
    occluded[3, 5] = 0
    write_lsp(tmp_path / "lsp", keypoints, occluded)

    everything = read_lsp(tmp_path / "lsp", "all")
    np.testing.assert_allclose(everything.keypoints_px, keypoints - 0.5, atol=1e-5)
    expected_visible = occluded == 0
    expected_visible[3, 5] = False
    np.testing.assert_array_equal(everything.visible, expected_visible)
    np.testing.assert_array_equal(everything.image_sizes, IMAGE_SIZES)
    assert [path.name for path in everything.image_paths] == ["im0001.jpg", "im0002.jpg", "im0003.jpg", "im0004.jpg"]

    train, test = read_lsp(tmp_path / "lsp", "train"), read_lsp(tmp_path / "lsp", "test")
    assert list(train.source_indices) == [0, 1] and list(test.source_indices) == [2, 3]
    np.testing.assert_array_equal(test.keypoints_px, everything.keypoints_px[2:])


def test_lspet_flag_one_means_visible_and_missing_joints_are_invisible(tmp_path):
    rng = np.random.default_rng(1)
    keypoints = matlab_keypoints(rng)
    visible = rng.integers(0, 2, size=(4, 14)).astype(float)
    visible[0, :3] = 1
    keypoints[0, 0] = (0.0, 0.0)  # how LSPET writes a missing joint
    keypoints[0, 1] = (-3.0, 10.0)  # outside the image
    write_lspet(tmp_path / "lsp_ext", keypoints, visible)

    labels = read_lspet(tmp_path / "lsp_ext")
    expected_visible = visible == 1
    expected_visible[0, :2] = False
    np.testing.assert_array_equal(labels.visible, expected_visible)
    assert labels.visible[0, 2]
    assert [path.name for path in labels.image_paths][:2] == ["im00001.jpg", "im00002.jpg"]


@pytest.mark.parametrize(
    ("reader", "folder", "joints", "message"),
    [
        (read_lsp, "lsp", np.zeros((14, 3, 4)), r"has the LSPET layout 14×3×N: put it under lsp_ext/"),
        (read_lspet, "lsp_ext", np.zeros((3, 14, 4)), r"has the LSP layout 3×14×N: put it under lsp/"),
        (read_lsp, "lsp", np.zeros((3, 12, 4)), r"shape \(3, 12, 4\), expected 3×14×N"),
    ],
)
def test_wrong_layout_names_the_file_and_where_it_belongs(tmp_path, reader, folder, joints, message):
    write_images(tmp_path / folder / "images", "lsp" if folder == "lsp" else "lspet")
    scipy.io.savemat(tmp_path / folder / "joints.mat", {"joints": joints})
    with pytest.raises(DatasetFormatError, match=message) as error:
        reader(tmp_path / folder)
    assert str(tmp_path / folder / "joints.mat") in str(error.value)


def test_wrong_key_lists_what_the_file_has(tmp_path):
    write_images(tmp_path / "lsp" / "images", "lsp")
    scipy.io.savemat(tmp_path / "lsp" / "joints.mat", {"annotations": np.zeros((3, 14, 4))})
    with pytest.raises(DatasetFormatError, match=r"no 'joints' array \(it has \['annotations'\]\)"):
        read_lsp(tmp_path / "lsp")


def test_non_finite_coordinates_name_the_image_and_joint(tmp_path):
    keypoints = matlab_keypoints(np.random.default_rng(2))
    keypoints[2, 7, 1] = np.nan
    write_lsp(tmp_path / "lsp", keypoints, np.zeros((4, 14)))
    with pytest.raises(DatasetFormatError, match=r"im0003\.jpg, joint 7"):
        read_lsp(tmp_path / "lsp", "all")


def test_flags_outside_zero_one_are_refused(tmp_path):
    write_lspet(tmp_path / "lsp_ext", matlab_keypoints(np.random.default_rng(3)), np.full((4, 14), 2.0))
    with pytest.raises(DatasetFormatError, match=r"flags must be 0 or 1, found \[2\.0\]"):
        read_lspet(tmp_path / "lsp_ext")


def test_missing_images_are_skipped_and_extra_images_ignored_with_counts(tmp_path):
    write_lsp(tmp_path / "lsp", matlab_keypoints(np.random.default_rng(4)), np.zeros((4, 14)))
    (tmp_path / "lsp" / "images" / "im0002.jpg").unlink()
    Image.new("RGB", (10, 10)).save(tmp_path / "lsp" / "images" / "im0009.jpg")
    with pytest.warns(UserWarning) as caught:
        labels = read_lsp(tmp_path / "lsp", "all")
    messages = " | ".join(str(warning.message) for warning in caught)
    assert "skipped 1 labels whose image is missing" in messages and "im0002.jpg" in messages
    assert "ignored 1 images without a label" in messages and "im0009.jpg" in messages
    assert list(labels.source_indices) == [0, 2, 3]


def test_missing_folders_and_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*DATA_DIR"):
        read_lsp(tmp_path / "nowhere")
    (tmp_path / "lsp").mkdir()
    with pytest.raises(FileNotFoundError, match=r"images.*does not exist"):
        read_lsp(tmp_path / "lsp")
    write_images(tmp_path / "lsp" / "images", "lsp")
    with pytest.raises(FileNotFoundError, match=r"joints\.mat not found"):
        read_lsp(tmp_path / "lsp")
    (tmp_path / "lsp" / "joints.mat").write_bytes(b"\x00" * 10)
    with pytest.raises(DatasetFormatError, match="cannot read .*joints.mat as a MATLAB file"):
        read_lsp(tmp_path / "lsp")
