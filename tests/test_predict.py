"""Prediction: Θ + overlays for a folder of images, via the CLI and as a function."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from tiny_runs import tiny_run_config

from hybridlib.predict import main as predict_main
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
