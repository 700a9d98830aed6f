"""UP-S1h silhouette reader on PNGs written the way the release stores them."""

import numpy as np
import pytest
from PIL import Image

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.lsp import KeypointSet
from hybridlib.data.up_s1h import find_silhouettes, read_silhouette, silhouette_path


def keypoint_set(tmp_path, layout: str, names: list[str], size=(40, 30)) -> KeypointSet:
    return KeypointSet(
        name=layout,
        image_paths=tuple(tmp_path / "images" / name for name in names),
        keypoints_px=np.zeros((len(names), 14, 2), np.float32),
        visible=np.ones((len(names), 14), bool),
        image_sizes=np.array([size] * len(names)),
        source_indices=np.arange(len(names)),
    )


def blob(width=40, height=30) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[5:20, 10:25] = 1
    return mask


def test_paths_follow_the_release_layout(tmp_path):
    assert silhouette_path(tmp_path, "lsp", "x/im0007.jpg") == tmp_path / "data" / "lsp" / "im0007_segmentation.png"
    assert (
        silhouette_path(tmp_path, "lspet", "im00012.jpg")
        == tmp_path / "data" / "lsp_extended" / "im00012_segmentation.png"
    )


@pytest.mark.parametrize(
    "to_image",
    [
        lambda mask: Image.fromarray(mask * 255, "L"),  # LSP: one channel
        lambda mask: Image.fromarray(
            np.stack([mask * 255, np.zeros_like(mask), np.full_like(mask, 255)], -1), "RGB"
        ),  # LSPET: channel 0
        lambda mask: Image.fromarray(mask.astype(np.uint16) * 40000),  # 16-bit grey
        lambda mask: Image.fromarray(np.stack([mask * 255] * 3 + [np.full_like(mask, 255)], -1), "RGBA"),
    ],
    ids=["grey", "rgb-channel-0", "16-bit", "rgba"],
)
def test_foreground_is_channel_zero_above_zero(tmp_path, to_image):
    to_image(blob()).save(tmp_path / "im0001_segmentation.png")
    np.testing.assert_array_equal(read_silhouette(tmp_path / "im0001_segmentation.png", (40, 30)), blob().astype(bool))


def test_wrong_size_names_the_file_and_the_image_size(tmp_path):
    Image.fromarray(blob(20, 20) * 255).save(tmp_path / "im0001_segmentation.png")
    with pytest.raises(
        DatasetFormatError, match=r"im0001_segmentation\.png is 20×20 but its image im0001\.jpg is 40×30"
    ):
        read_silhouette(tmp_path / "im0001_segmentation.png", (40, 30))


def test_corrupt_png_is_refused_with_its_name(tmp_path):
    (tmp_path / "im0001_segmentation.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(DatasetFormatError, match=r"cannot read silhouette .*im0001_segmentation\.png"):
        read_silhouette(tmp_path / "im0001_segmentation.png")


def test_missing_and_blank_silhouettes_become_none_never_a_blank_mask(tmp_path):
    up_root = tmp_path / "up-s1h"
    folder = up_root / "data" / "lsp_extended"
    folder.mkdir(parents=True)
    Image.fromarray(np.stack([blob() * 255] * 3, -1)).save(folder / "im00001_segmentation.png")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "im00003_segmentation.png")  # all zero
    labels = keypoint_set(tmp_path, "lspet", ["im00001.jpg", "im00002.jpg", "im00003.jpg"])
    with pytest.warns(UserWarning, match=r"1 all-zero silhouettes treated as missing"):
        found = find_silhouettes(up_root, labels)
    assert found == (folder / "im00001_segmentation.png", None, None)
    assert find_silhouettes(None, labels) == (None, None, None)
    with pytest.raises(FileNotFoundError, match="UP-S1h folder .* does not exist"):
        find_silhouettes(tmp_path / "absent", labels)
