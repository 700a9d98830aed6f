"""hybridlib.demo: the pose vectors, the framing camera, the renders and the gallery of the README."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL, OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.demo import DEMO_BODIES, framing_camera, gallery, main, pose_vector, render_demo_bodies
from hybridlib.geometry import weak_perspective_projection
from hybridlib.skeleton import BODY_JOINT_NAMES

IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def lite_model() -> BodyModel:
    return BodyModel(OPEN_BODY_MODEL_LITE)


@pytest.fixture(scope="module")
def demo_images(lite_model) -> dict[str, np.ndarray]:
    return render_demo_bodies(lite_model, image_size=IMAGE_SIZE)


def _project(vertices: np.ndarray, camera: np.ndarray) -> np.ndarray:
    points = weak_perspective_projection(torch.as_tensor(vertices)[None], torch.as_tensor(camera)[None])
    return points[0].numpy()


@pytest.mark.parametrize("slot, joint_name", list(enumerate(BODY_JOINT_NAMES)))
def test_pose_vector_puts_a_joint_rotation_at_its_body_pose_slot(slot, joint_name):
    rotation = (0.1, -0.2, 0.3)
    body_pose = pose_vector({joint_name: rotation})
    assert body_pose.shape == (1, 3 * len(BODY_JOINT_NAMES))
    per_joint = body_pose.reshape(len(BODY_JOINT_NAMES), 3)
    torch.testing.assert_close(per_joint[slot], torch.tensor(rotation))
    others = torch.cat([per_joint[:slot], per_joint[slot + 1 :]])
    assert torch.count_nonzero(others) == 0


def test_pose_vector_of_several_joints_and_of_none():
    assert torch.count_nonzero(pose_vector({})) == 0
    rotations = {"left_shoulder": (0.0, 0.0, -1.2), "right_knee": (0.7, 0.0, 0.0), "head": (0.0, 0.5, 0.0)}
    per_joint = pose_vector(rotations).reshape(len(BODY_JOINT_NAMES), 3)
    for name, rotation in rotations.items():
        torch.testing.assert_close(per_joint[BODY_JOINT_NAMES.index(name)], torch.tensor(rotation))
    assert torch.count_nonzero(per_joint.abs().sum(dim=1)) == len(rotations)


def test_pose_vector_rejects_a_name_that_is_no_joint():
    with pytest.raises(ValueError):
        pose_vector({"tail": (0.0, 0.0, 1.0)})


def test_pose_vector_refuses_the_pelvis_rather_than_moving_its_rotation_to_another_joint():
    with pytest.raises(ValueError, match="pelvis"):
        pose_vector({"pelvis": (0.0, 0.0, 1.0)})


@pytest.mark.parametrize("fill", [0.5, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("size, long_axis", [((0.6, 1.7, 0.3), 1), ((1.8, 0.4, 0.3), 0)], ids=["tall", "wide"])
def test_framing_camera_centres_the_vertices_and_fills_the_image(fill, size, long_axis):
    generator = np.random.default_rng(3)
    vertices = generator.uniform(0.0, 1.0, size=(500, 3)) * np.array(size) + np.array([3.0, -9.0, 2.0])  # off-centre
    projected = _project(vertices, framing_camera(vertices, fill=fill))
    assert np.all(np.abs(projected) <= 1.0 + 1e-12)  # fill 1.0 touches the border, up to round-off
    low, high = projected.min(axis=0), projected.max(axis=0)
    np.testing.assert_allclose((low + high) / 2.0, 0.0, atol=1e-9)
    extent = high - low
    assert extent[long_axis] == pytest.approx(2.0 * fill)
    assert extent[1 - long_axis] < extent[long_axis]


def test_framing_camera_frames_a_posed_body(lite_model):
    with torch.no_grad():
        vertices = lite_model(torch.zeros(1, 3), pose_vector(DEMO_BODIES[1].joint_rotations), torch.zeros(1, 10))
    vertices = vertices.vertices[0].numpy()
    projected = _project(vertices, framing_camera(vertices, fill=0.9))
    assert np.all(np.abs(projected) <= 1.0)
    assert (projected.max(axis=0) - projected.min(axis=0)).max() == pytest.approx(1.8)


def test_render_demo_bodies_gives_one_rgb_image_per_demo_body(demo_images):
    assert list(demo_images) == [body.name for body in DEMO_BODIES]
    for name, image in demo_images.items():
        assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.uint8, name
        foreground = image.any(axis=2)
        assert 0 < foreground.sum() < foreground.size, name
        # fill 0.8 of the shared camera: the image border stays background
        assert not foreground[0].any() and not foreground[-1].any(), name
        assert not foreground[:, 0].any() and not foreground[:, -1].any(), name


def test_render_demo_bodies_share_one_camera_so_the_tall_body_looks_taller(demo_images):
    def rows_covered(image: np.ndarray) -> int:
        return int(np.count_nonzero(image.any(axis=(1, 2))))

    assert rows_covered(demo_images["tall_beta0_+2"]) > rows_covered(demo_images["short_beta0_-2"])


def test_gallery_tiles_labelled_images_row_by_row():
    height, width = 48, 64
    images = {f"body{index}": np.full((height, width, 3), 40 * index, np.uint8) for index in range(5)}
    originals = {name: image.copy() for name, image in images.items()}
    tiled = gallery(images, columns=2)
    assert tiled.shape == (3 * height, 2 * width, 3) and tiled.dtype == np.uint8
    for name, image in images.items():
        np.testing.assert_array_equal(image, originals[name])  # the inputs are not drawn on
    for index in range(5):
        row, column = divmod(index, 2)
        tile = tiled[row * height : (row + 1) * height, column * width : (column + 1) * width]
        label_area = tile[:26, :]
        assert label_area.max() > 200, f"tile {index} has no label"
        np.testing.assert_array_equal(tile[30:], images[f"body{index}"][30:])  # below the label: the image
    assert not tiled[2 * height :, width:].any()  # the padding tile of the last row is black


def test_gallery_of_the_demo_bodies(demo_images):
    tiled = gallery(demo_images)
    rows = -(-len(demo_images) // 4)
    assert tiled.shape == (rows * IMAGE_SIZE, 4 * IMAGE_SIZE, 3)


@pytest.mark.parametrize(
    ("options", "model_file"),
    [([], OPEN_BODY_MODEL), (["--body-model", str(OPEN_BODY_MODEL_LITE)], OPEN_BODY_MODEL_LITE)],
    ids=["default-model", "lite-model"],
)
def test_main_writes_each_body_and_the_gallery(tmp_path, capsys, options, model_file):
    out = tmp_path / "gallery"
    gallery_path = main(["--out", str(out), *options])
    assert gallery_path == out / "gallery.png" and gallery_path.is_file()
    written = cv2.imread(str(gallery_path))
    assert written is not None and written.ndim == 3
    tile_size = written.shape[1] // 4
    assert written.shape == (-(-len(DEMO_BODIES) // 4) * tile_size, 4 * tile_size, 3)
    for body in DEMO_BODIES:
        image = cv2.imread(str(out / f"{body.name}.png"))
        assert image is not None and image.shape == (tile_size, tile_size, 3), body.name
    printed = capsys.readouterr().out
    assert f"rendered {len(DEMO_BODIES)} bodies" in printed and f"body model: {model_file}" in printed
