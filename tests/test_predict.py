"""Prediction: Θ + overlays for a folder of images, via the CLI and as a function."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from tiny_runs import tiny_run_config

from hybridlib.data.lsp import read_lsp
from hybridlib.evaluation.evaluate import load_trained
from hybridlib.predict import main as predict_main
from hybridlib.predict import predict_images
from hybridlib.training import train


def test_predict_writes_theta_and_an_overlay_per_image(generated_root, tmp_path, capsys):
    config = tiny_run_config(generated_root, tmp_path / "run", use_lspet=False, max_steps=1, critic="none")
    train(config)
    images = tmp_path / "images"
    images.mkdir()
    for name in ("im0001.jpg", "im0002.jpg"):
        shutil.copy(generated_root / "lsp" / "images" / name, images / name)
    (images / "notes.txt").write_text("not an image")
    out = predict_main(
        ["--checkpoint", str(config.checkpoint_path), "--images", str(images), "--out", str(tmp_path / "out")]
    )
    assert "wrote Θ and overlays of 2 images" in capsys.readouterr().out
    for name in ("im0001", "im0002"):
        with np.load(out / f"{name}.npz") as prediction:
            assert (
                prediction["theta"].shape == (85,)
                and prediction["keypoints_px"].shape == (14, 2)
                and prediction["joints_3d"].shape == (14, 3)
            )
            scale, tx, ty = prediction["camera"]
            image = cv2.imread(str(images / f"{name}.jpg"))
            side = max(image.shape[:2])
            expected = (scale * (prediction["joints_3d"][:, :2] + (tx, ty)) + 1) / 2 * side
            np.testing.assert_allclose(prediction["keypoints_px"], expected, rtol=1e-4, atol=1e-3)
        overlay = cv2.imread(str(out / f"{name}_overlay.png"))
        assert overlay.shape == image.shape


def test_predict_refuses_folders_without_images(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        predict_main(["--checkpoint", "x.pt", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert "holds no .jpg or .png images" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_checkpoint(generated_root, tmp_path_factory):
    config = tiny_run_config(
        generated_root, tmp_path_factory.mktemp("run"), use_lspet=False, max_steps=1, critic="none"
    )
    train(config)
    return config.checkpoint_path


def _photo_with_a_person_at(generated_root, folder, offset):
    """An LSP image pasted at ``offset`` (x, y) into a black photo three times its size, and the
    box of its labelled keypoints in the photo's pixels."""
    labels = read_lsp(generated_root / "lsp", "all")
    image = cv2.imread(str(labels.image_paths[0]))
    photo = np.zeros((3 * image.shape[0], 3 * image.shape[1], 3), np.uint8)
    photo[offset[1] : offset[1] + image.shape[0], offset[0] : offset[0] + image.shape[1]] = image
    folder.mkdir()
    cv2.imwrite(str(folder / "photo.png"), photo)
    points = labels.keypoints_px[0][labels.visible[0]] + offset
    return folder / "photo.png", np.concatenate([points.min(axis=0), points.max(axis=0)])


def test_a_box_crops_the_person_as_training_did_wherever_it_stands(generated_root, tmp_path, trained_checkpoint):
    networks, config, _ = load_trained(trained_checkpoint)
    near, near_box = _photo_with_a_person_at(generated_root, tmp_path / "near", (0, 0))
    far, far_box = _photo_with_a_person_at(generated_root, tmp_path / "far", (37, 51))
    (at_near,) = predict_images(networks, [near], config.image_size, "cpu", False, {near.name: near_box})
    (at_far,) = predict_images(networks, [far], config.image_size, "cpu", False, {far.name: far_box})
    np.testing.assert_allclose(at_far.theta, at_near.theta, atol=1e-5)  # the same crop, so the same Θ
    np.testing.assert_allclose(at_far.keypoints_px, at_near.keypoints_px + (37, 51), atol=1e-3)
    # the photo's camera projects the 3D joints onto the keypoints in the photo's pixels
    side = max(cv2.imread(str(far)).shape[:2])
    scale, tx, ty = at_far.camera_in_image
    expected = (scale * (at_far.joints_3d[:, :2] + (tx, ty)) + 1) / 2 * side
    np.testing.assert_allclose(at_far.keypoints_px, expected, rtol=1e-4, atol=1e-2)
    assert at_far.overlay.shape == cv2.imread(str(far)).shape  # drawn on the original photo


def test_openpose_keypoints_and_a_boxes_file_give_the_same_crop(generated_root, tmp_path, trained_checkpoint, capsys):
    photo, box = _photo_with_a_person_at(generated_root, tmp_path / "photos", (20, 10))
    people = {"people": [{"pose_keypoints_2d": [box[0], box[1], 0.9, box[2], box[3], 0.8, 999.0, 999.0, 0.05]}]}
    openpose = tmp_path / "openpose"
    openpose.mkdir()
    (openpose / "photo_keypoints.json").write_text(json.dumps(people))  # the low-confidence point is left out
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"photo.png": box.tolist()}))
    common = ["--checkpoint", str(trained_checkpoint), "--images", str(photo.parent)]
    predict_main([*common, "--out", str(tmp_path / "from_boxes"), "--boxes", str(boxes)])
    predict_main([*common, "--out", str(tmp_path / "from_openpose"), "--openpose", str(openpose)])
    with (
        np.load(tmp_path / "from_boxes" / "photo.npz") as by_box,
        np.load(tmp_path / "from_openpose" / "photo.npz") as by_pose,
    ):
        np.testing.assert_allclose(by_box["box"], box)
        np.testing.assert_allclose(by_pose["theta"], by_box["theta"], atol=1e-6)
    boxes.write_text(json.dumps({"photo.png": [10, 10, 5, 40]}))
    with pytest.raises(SystemExit):
        predict_main([*common, "--out", str(tmp_path / "bad"), "--boxes", str(boxes)])
    assert "the box of 'photo.png' is [10, 10, 5, 40]" in capsys.readouterr().err
