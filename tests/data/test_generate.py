"""The generator writes the real formats: read its output back through the real readers and
check it against what it drew."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import scipy.io
import torch

import hybridlib.data.generate as generate
from hybridlib import progress_file
from hybridlib.body_model import BodyModel
from hybridlib.body_model.joint_limits import joints_outside_limits
from hybridlib.data.lsp import read_lsp, read_lspet
from hybridlib.data.mocap import read_mocap_folder
from hybridlib.data.truth import read_truth_3d
from hybridlib.data.up_s1h import find_silhouettes, read_silhouette
from hybridlib.progress_file import PROGRESS_FILE, read_progress
from hybridlib.rendering import render_silhouette


def _digest(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_files_follow_the_release_layouts(generated_root, small_config):
    lsp = scipy.io.loadmat(generated_root / "lsp" / "joints.mat")["joints"]
    lspet = scipy.io.loadmat(generated_root / "lsp_ext" / "joints.mat")["joints"]
    assert lsp.shape == (3, 14, small_config.lsp) and lspet.shape == (14, 3, small_config.lspet)
    assert sorted(p.name for p in (generated_root / "lsp" / "images").iterdir())[:2] == ["im0001.jpg", "im0002.jpg"]
    assert sorted(p.name for p in (generated_root / "lsp_ext" / "images").iterdir())[:2] == [
        "im00001.jpg",
        "im00002.jpg",
    ]
    assert (generated_root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png").is_file()
    assert read_silhouette(generated_root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png").ndim == 2
    with open(sorted((generated_root / "mosh").glob("*.pkl"))[0], "rb") as handle:
        assert handle.read(2) == b"\x80\x02"  # pickle protocol 2, as the Python-2 era MoSh files
    assert "seed: 7" in (generated_root / "README.md").read_text()


@pytest.mark.parametrize("layout", ["lsp", "lspet"])
def test_keypoints_and_flags_read_back_as_drawn(generated_root, layout):
    keypoint_set = (
        read_lsp(generated_root / "lsp", "all") if layout == "lsp" else read_lspet(generated_root / "lsp_ext")
    )
    truth = read_truth_3d(generated_root / "truth_3d.npz", layout)
    with np.load(generated_root / "truth_3d.npz") as archive:
        depth_visible = archive[f"{layout}_visible"]
    assert len(keypoint_set) == len(truth)
    drawn_px = truth.pixels_per_metre[:, None, None] * truth.joints_3d[..., :2] + truth.offset_px[:, None, :]
    inside = (drawn_px >= 0).all(-1) & (drawn_px < truth.image_size[:, None, :]).all(-1)
    np.testing.assert_array_equal(keypoint_set.visible, depth_visible & inside)
    np.testing.assert_allclose(keypoint_set.keypoints_px[inside], drawn_px[inside], atol=1e-3)
    assert 0.6 < keypoint_set.visible.mean() < 0.99  # some occlusion, mostly visible
    np.testing.assert_array_equal(keypoint_set.image_sizes, truth.image_size)


def test_some_keypoints_are_occluded_by_the_depth_test(generated_root):
    with np.load(generated_root / "truth_3d.npz") as archive:
        assert (~archive["lsp_visible"]).sum() + (~archive["lspet_visible"]).sum() > 0


def test_silhouettes_cover_all_lsp_and_most_lspet_and_match_the_3d_truth(generated_root, small_config):
    lsp = read_lsp(generated_root / "lsp", "all")
    lspet = read_lspet(generated_root / "lsp_ext")
    lsp_silhouettes = find_silhouettes(generated_root / "up-s1h", lsp)
    lspet_silhouettes = find_silhouettes(generated_root / "up-s1h", lspet)
    assert all(path is not None for path in lsp_silhouettes)
    assert sum(path is not None for path in lspet_silhouettes) == round(
        generate.SILHOUETTE_FRACTION_LSPET * small_config.lspet
    )

    body_model = BodyModel()
    truth = read_truth_3d(generated_root / "truth_3d.npz", "lsp")
    for index in range(3):
        pose = torch.from_numpy(truth.pose[index : index + 1])
        with torch.no_grad():
            output = body_model(pose[:, :3], pose[:, 3:], torch.from_numpy(truth.betas[index : index + 1]))
        np.testing.assert_allclose(output.keypoints_lsp[0].numpy(), truth.joints_3d[index], atol=1e-5)
        width, height = truth.image_size[index]
        canvas = max(width, height)
        camera = np.array(
            [
                2 * truth.pixels_per_metre[index] / canvas,
                *((truth.offset_px[index] - canvas / 2) / truth.pixels_per_metre[index]),
            ]
        )
        redrawn = render_silhouette(output.vertices[0].numpy(), body_model.faces, camera, int(canvas))[:height, :width]
        stored = read_silhouette(lsp_silhouettes[index], (width, height))
        iou = (redrawn & stored).sum() / (redrawn | stored).sum()
        assert iou > 0.95


def test_mosh_set_reads_back_inside_the_joint_limits_and_apart_from_the_image_poses(generated_root, small_config):
    mocap = read_mocap_folder(generated_root / "mosh")
    assert mocap.poses.shape == (small_config.mosh, 72) and mocap.betas.shape == (small_config.mosh, 10)
    assert len(set(mocap.source_files)) == -(-small_config.mosh // small_config.mosh_frames_per_file)  # ceil
    rotations = BodyModel(lsp_regressor_path=None)(
        torch.from_numpy(mocap.poses[:, :3]), torch.from_numpy(mocap.poses[:, 3:]), torch.from_numpy(mocap.betas)
    ).rotation_matrices
    assert joints_outside_limits(rotations[:, 1:], tolerance_deg=0.5).float().mean() < 0.002
    image_poses = read_truth_3d(generated_root / "truth_3d.npz", "lsp").pose
    distances = np.abs(mocap.poses[:, None, :] - image_poses[None]).max(axis=-1)
    assert distances.min() > 1e-3  # disjoint draws


def test_same_seed_same_bytes_whatever_the_number_of_workers(generated_root, small_config, tmp_path):
    again = generate.generate_dataset(tmp_path / "again", small_config, workers=2, progress=False)
    for pattern in ("lsp/images/*.jpg", "lsp_ext/images/*.jpg", "up-s1h/data/*/*.png", "mosh/*.pkl"):
        assert _digest(generated_root.glob(pattern)) == _digest(again.glob(pattern)), pattern
    for name in ("lsp/joints.mat", "lsp_ext/joints.mat"):
        np.testing.assert_array_equal(
            scipy.io.loadmat(generated_root / name)["joints"], scipy.io.loadmat(again / name)["joints"]
        )


def test_an_interrupted_run_resumes_and_gives_the_same_dataset(small_config, tmp_path, monkeypatch):
    config = replace(small_config, lsp=10, lspet=0, mosh=0)
    monkeypatch.setattr(generate, "CHUNK_SIZE", 4)
    real_render = generate._render_chunk
    rendered: list[int] = []

    monkeypatch.setattr(progress_file, "PROGRESS_EVERY_S", 0.0)  # progress.json after every chunk
    cache = tmp_path / "resumed" / generate.CACHE_DIR_NAME
    progress_seen = []

    def failing_render(task):
        if task["chunk"] == 1 and not rendered.count(-1):
            rendered.append(-1)
            raise KeyboardInterrupt
        rendered.append(task["chunk"])
        if (cache / PROGRESS_FILE).is_file():
            progress_seen.append(json.loads((cache / PROGRESS_FILE).read_text()))
        return real_render(task)

    monkeypatch.setattr(generate, "_render_chunk", failing_render)
    with pytest.raises(KeyboardInterrupt):
        generate.generate_dataset(tmp_path / "resumed", config, workers=1, progress=False)
    assert len(list(cache.glob("lsp_*.npz"))) == 1
    assert read_progress(cache / PROGRESS_FILE).step == 4  # images done, for python -m hybridlib.studies
    generate.generate_dataset(tmp_path / "resumed", config, workers=1, progress=False)
    assert rendered == [0, -1, 1, 2]  # chunk 0 was not rendered twice
    # the resumed run counts from the 4 images already done
    assert [(seen["step"], seen["first_step"], seen["total"]) for seen in progress_seen] == [(4, 0, 10), (8, 4, 10)]
    assert not (tmp_path / "resumed" / generate.CACHE_DIR_NAME).exists()

    monkeypatch.setattr(generate, "_render_chunk", real_render)
    fresh = generate.generate_dataset(tmp_path / "fresh", config, workers=1, progress=False)
    assert _digest((tmp_path / "resumed").glob("lsp/images/*.jpg")) == _digest(fresh.glob("lsp/images/*.jpg"))
    np.testing.assert_array_equal(
        scipy.io.loadmat(tmp_path / "resumed/lsp/joints.mat")["joints"],
        scipy.io.loadmat(fresh / "lsp/joints.mat")["joints"],
    )


def test_cli_small_profile_and_bad_sizes(tmp_path, capsys):
    with pytest.raises(SystemExit):
        generate.main(["--out", str(tmp_path / "bad"), "--lsp", "-1"])
    assert "--lsp must be ≥ 0" in capsys.readouterr().err
    out = generate.main(
        ["--out", str(tmp_path / "cli"), "--small", "--lsp", "2", "--lspet", "2", "--mosh", "10", "--workers", "1"]
    )
    assert len(list((out / "lsp" / "images").glob("*.jpg"))) == 2
    with open(out / "mosh" / "generated_subject_001.pkl", "rb") as handle:
        assert set(pickle.load(handle)) == {"poses", "betas"}
    assert "wrote 4 images and 10 MoSh poses" in capsys.readouterr().out


def test_two_processes_generating_one_folder_at_once_leave_one_complete_valid_set(generated_root, tmp_path):
    sizes = ["--lsp", "12", "--lspet", "14", "--mosh", "120", "--seed", "7", "--workers", "1"]
    command = [sys.executable, "-m", "hybridlib.data.generate", "--out", str(tmp_path / "shared"), *sizes]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, errors) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, errors[-2000:]
    shared = tmp_path / "shared"
    assert (shared / "README.md").is_file() and not (shared / generate.CACHE_DIR_NAME).exists()
    for pattern in ("lsp/images/*.jpg", "lsp_ext/images/*.jpg", "up-s1h/data/*/*.png"):
        assert _digest(generated_root.glob(pattern)) == _digest(shared.glob(pattern)), pattern
    assert len(read_lsp(shared / "lsp", "all").image_paths) == 12
    assert len(read_lspet(shared / "lsp_ext").image_paths) == 14
