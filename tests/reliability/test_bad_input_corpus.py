"""The bad-input corpus: every reader and entry point fed a broken file or parameter, written by
the test in the real format (nothing binary is committed). Each case ends one of three ways,
the same as the table in docs/errors.md (a test keeps the two in step):

- refused: the exact error type, a message naming the file (or parameter) and the fix;
- skipped: the input is left out with one counted warning, the rest is used;
- converted: read as a viewer shows it (grey, RGBA and 16-bit images become 8-bit RGB).
"""

from __future__ import annotations

import pickle
import re
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from pickle_payloads import WritesAFile
from PIL import Image

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.body_model.body_model import BodyModelError
from hybridlib.data import DataConfig, build_dataset, read_mocap_folder
from hybridlib.data.check import DataCheckError, require_usable
from hybridlib.data.errors import DatasetFormatError
from hybridlib.evaluation import load_trained
from hybridlib.folder_lock import FolderBusyError, hold_folder
from hybridlib.models.forward import build_networks
from hybridlib.models.spin_format import SpinCheckpointError, load_spin_checkpoint
from hybridlib.paths import REPOSITORY_ROOT
from hybridlib.predict import read_boxes, read_openpose_boxes
from hybridlib.safe_pickle import UnsafePickleError
from hybridlib.studies import ParameterError, resolve_settings
from hybridlib.training import TrainConfig, train
from hybridlib.training.checkpoint import save_checkpoint

ERRORS_DOC = REPOSITORY_ROOT / "docs" / "errors.md"


@dataclass(frozen=True)
class Case:
    """One bad input: ``run(root, tmp)`` feeds it to an entry point; ``outcome`` says how it must end."""

    name: str
    outcome: str  # "refused" | "skipped" | "converted"
    run: Callable[[Path, Path], object]
    error: type[BaseException] | None = None
    message: tuple[str, ...] = ()  # regexes the message must match: the file or parameter, and the fix
    warning: str | None = None  # skipped: the counted warning
    check: Callable[[object], None] | None = None  # skipped / converted: what was used


# --- helpers writing the broken files in the real formats -------------------------------------


def _dataset(root: Path, use_lspet: bool = False, split: str = "train"):
    dataset = build_dataset(DataConfig(root=root, use_lspet=use_lspet), split)
    return dataset, [dataset[index] for index in range(len(dataset))]


def _joints(root: Path, folder: str = "lsp") -> np.ndarray:
    return scipy.io.loadmat(root / folder / "joints.mat")["joints"]


def _write_joints(root: Path, joints: object, folder: str = "lsp", key: str = "joints") -> None:
    scipy.io.savemat(root / folder / "joints.mat", {key: joints})


def _lsp_image(root: Path, number: int = 1) -> Path:
    return root / "lsp" / "images" / f"im{number:04d}.jpg"


def _replace_image(root: Path, convert: Callable[[Image.Image], Image.Image], suffix_format: str) -> Path:
    path = _lsp_image(root)
    with Image.open(path) as image:
        converted = convert(image)
    converted.save(path, format=suffix_format)  # same name: LSP's reader goes by content, as PIL does
    return path


def _mosh_pickle(root: Path, contents: object) -> Path:
    for old in (root / "mosh").iterdir():
        old.unlink()
    path = root / "mosh" / "subject.pkl"
    path.write_bytes(pickle.dumps(contents, protocol=2))
    return path


def _payload(tmp: Path) -> WritesAFile:
    return WritesAFile(tmp / "payload-ran")


def _smpl_npz(tmp: Path, drop: str | None = None, vertices: int | None = None) -> Path:
    arrays = dict(np.load(OPEN_BODY_MODEL_LITE))
    if drop:
        del arrays[drop]
    if vertices:  # another model's topology: vertex count that no SMPL-layout file has, no landmarks
        arrays = {
            key: value for key, value in arrays.items() if key not in ("head_top_vertex", "face_keypoint_vertices")
        }
        arrays["v_template"] = np.zeros((vertices, 3))
        arrays["shapedirs"] = np.zeros((vertices, 3, 10))
        arrays["posedirs"] = np.zeros((vertices, 3, 207))
        arrays["J_regressor"] = np.zeros((24, vertices))
        arrays["weights"] = np.full((vertices, 24), 1 / 24)
        arrays["f"] = np.zeros((1, 3), np.int64)
    path = tmp / "model.npz"
    np.savez(path, **arrays)
    return path


# --- the corpus ---------------------------------------------------------------------------------

CASES = [
    # LSP / LSP extended labels
    Case("joints.mat missing", "refused", lambda root, tmp: ((root / "lsp" / "joints.mat").unlink(), _dataset(root)),
         FileNotFoundError, (r"lsp/joints\.mat not found", r"DATA_DIR|generate")),
    Case("joints.mat not a MATLAB file", "refused",
         lambda root, tmp: ((root / "lsp" / "joints.mat").write_bytes(b"not matlab"), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat", r"re-copy it")),
    Case("joints.mat with the wrong key", "refused",
         lambda root, tmp: (_write_joints(root, _joints(root), key="labels"), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat has no 'joints' array", r"stores its labels as 'joints'")),
    Case("joints.mat of the wrong shape", "refused",
         lambda root, tmp: (_write_joints(root, _joints(root)[:, :12]), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat: 'joints' has shape \(3, 12, 12\), expected 3×14×N", r"Re-copy it")),
    Case("LSP joints.mat in the LSP-extended layout", "refused",
         lambda root, tmp: (_write_joints(root, _joints(root).transpose(1, 0, 2)), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat", r"put it under lsp_ext/")),
    Case("LSP-extended joints.mat in the LSP layout", "refused",
         lambda root, tmp: (
             _write_joints(root, _joints(root, "lsp_ext").transpose(1, 0, 2), "lsp_ext"),
             _dataset(root, use_lspet=True),
         ),
         DatasetFormatError, (r"lsp_ext/joints\.mat", r"put it under lsp/")),
    Case("NaN coordinate", "refused",
         lambda root, tmp: (_write_joints(root, _set(_joints(root), (0, 3, 2), np.nan)), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat: non-finite coordinates .* image im0003\.jpg, joint 3", r"re-copy it")),
    Case("inf coordinate", "refused",
         lambda root, tmp: (_write_joints(root, _set(_joints(root), (1, 5, 0), np.inf)), _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat: non-finite coordinates .* image im0001\.jpg, joint 5", r"re-copy it")),
    Case("visibility flag outside {0, 1}", "refused",
         lambda root, tmp: (_write_joints(root, _set(_joints(root), (2, 0, 0), 2.0)), _dataset(root)),
         DatasetFormatError,
         (r"lsp/joints\.mat: visibility flags must be 0 or 1, found \[2\.0\]", r"not an unmodified LSP joints\.mat")),
    Case("labels for images that do not exist", "skipped",
         lambda root, tmp: (_lsp_image(root, 2).unlink(), _lsp_image(root, 5).unlink(), _dataset(root))[-1],
         warning=r"skipped 2 labels whose image is missing", check=lambda result: _expect_len(result, 4)),
    Case("most labelled images missing", "refused",
         lambda root, tmp: ([_lsp_image(root, number).unlink() for number in (1, 2, 3, 4)], _dataset(root)),
         DatasetFormatError, (r"lsp/joints\.mat: 4 of its 6 labelled images are missing", r"Copy the whole images/")),
    Case("LSP labels of the original-resolution images", "refused",
         lambda root, tmp: (_write_joints(root, _scale_coordinates(_joints(root), 6.0)), _dataset(root)),
         DatasetFormatError,
         (r"lsp/joints\.mat does not fit the images in .*lsp/images: \d+% of the visible keypoints lie outside",
          r"joints\.mat of lsp_dataset_original .* beside the scaled LSP images")),
    Case("scaled LSP labels beside the original-resolution images", "refused",
         lambda root, tmp: (_write_joints(root, _scale_coordinates(_joints(root), 1 / 6)), _dataset(root)),
         DatasetFormatError,
         (r"lsp/joints\.mat does not fit .*: the keypoints span only \d+% of their image",
          r"scaled LSP joints\.mat beside the original-resolution images")),
    Case("images without labels", "skipped",
         lambda root, tmp: (shutil.copy(_lsp_image(root), root / "lsp" / "images" / "im0099.jpg"), _dataset(root))[-1],
         warning=r"ignored 1 images without a label", check=lambda result: _expect_len(result, 6)),
    # images
    Case("zero-byte JPEG", "refused", lambda root, tmp: (_lsp_image(root).write_bytes(b""), _dataset(root)),
         DatasetFormatError, (r"images/im0001\.jpg", r"Re-copy it .* or delete it")),
    Case("JPEG cut inside its data, before training", "refused",
         lambda root, tmp: (_truncate(_lsp_image(root)), require_usable(root, progress=False)),
         DataCheckError, (r"cannot be used: lsp \(unusable\)", r"1 file fails to decode .*im0001\.jpg")),
    Case("truncated JPEG", "refused", lambda root, tmp: (_truncate(_lsp_image(root)), _dataset(root)),
         DatasetFormatError, (r"images/im0001\.jpg", r"truncated or corrupt\. Re-copy it")),
    Case("grey image", "converted",
         lambda root, tmp: (_replace_image(root, lambda image: image.convert("L"), "JPEG"), _dataset(root))[-1],
         check=lambda result: _expect_rgb(result)),
    Case("RGBA image", "converted",
         lambda root, tmp: (_replace_image(root, lambda image: image.convert("RGBA"), "PNG"), _dataset(root))[-1],
         check=lambda result: _expect_rgb(result)),
    Case("16-bit grey PNG", "converted",
         lambda root, tmp: (_replace_image(root, _to_16_bit, "PNG"), _dataset(root))[-1],
         check=lambda result: _expect_rgb(result, not_saturated=True)),
    # UP-S1h silhouettes
    Case("silhouette of the wrong size", "refused",
         lambda root, tmp: (
             Image.new("L", (31, 17), 255).save(root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png"),
             _dataset(root),
         ),
         DatasetFormatError,
         (r"im0001_segmentation\.png is 31×17 but its image im0001\.jpg", r"use the matching file, unresized")),
    Case("silhouette of the wrong size, before training", "refused",
         lambda root, tmp: (
             Image.new("L", (31, 17), 255).save(root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png"),
             require_usable(root, progress=False),
         ),
         DataCheckError, (r"cannot be used: up-s1h \(unusable\)", r"im0001_segmentation\.png is 31×17, its image")),
    Case("silhouette all zero", "skipped",
         lambda root, tmp: (
             _blank_silhouette(root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png"),
             _dataset(root),
         )[-1],
         warning=r"1 all-zero silhouettes treated as missing",
         check=lambda result: _expect_without_silhouette(result, 0)),
    Case("silhouette not a PNG", "refused",
         lambda root, tmp: (
             (root / "up-s1h" / "data" / "lsp" / "im0001_segmentation.png").write_bytes(b"\x89PNG broken"),
             _dataset(root),
         ),
         DatasetFormatError, (r"im0001_segmentation\.png", r"re-copy|Re-copy|delete")),
    # MoSh / AMASS poses for the critic
    Case("MoSh pickle with wrong keys", "refused",
         lambda root, tmp: (_mosh_pickle(root, {"pose": np.zeros((5, 72))}), read_mocap_folder(root / "mosh")),
         DatasetFormatError, (r"subject\.pkl: a MoSh pickle needs 'poses' \(or 'new_poses'\) and 'betas'",)),
    Case("MoSh pickle with wrong shapes", "refused",
         lambda root, tmp: (
             _mosh_pickle(root, {"poses": np.zeros((5, 69)), "betas": np.zeros(10)}),
             read_mocap_folder(root / "mosh"),
         ),
         DatasetFormatError, (r"subject\.pkl: 'poses' has shape \(5, 69\), expected \(N, 72\)",)),
    Case("MoSh pickle that runs code", "refused",
         lambda root, tmp: (
             _mosh_pickle(root, {"poses": _payload(tmp), "betas": np.zeros(10)}),
             read_mocap_folder(root / "mosh"),
         ),
         UnsafePickleError, (r"subject\.pkl", r"refused")),
    Case("AMASS npz with too few pose columns", "refused",
         lambda root, tmp: (_amass(root, poses=np.zeros((5, 60))), read_mocap_folder(root / "mosh")),
         DatasetFormatError, (r"subject\.npz", r"66")),
    Case("MoSh poses in degrees", "refused",
         lambda root, tmp: (
             _mosh_pickle(root, {"poses": np.rad2deg(_real_poses(root)), "betas": np.zeros(10)}),
             read_mocap_folder(root / "mosh"),
         ),
         DatasetFormatError, (r"subject\.pkl: the poses look like degrees, not radians", r"numpy\.deg2rad")),
    Case("AMASS poses in degrees", "refused",
         lambda root, tmp: (_amass(root, np.rad2deg(_real_poses(root))[:, :66]), read_mocap_folder(root / "mosh")),
         DatasetFormatError, (r"subject\.npz: the poses look like degrees", r"radians")),
    Case("empty MoSh folder", "refused",
         lambda root, tmp: ([path.unlink() for path in (root / "mosh").iterdir()], read_mocap_folder(root / "mosh")),
         FileNotFoundError, (r"mosh holds no MoSh \.pkl or AMASS \.npz files", r"DATA_DIR|generate")),
    # body model files
    Case("SMPL file with missing keys", "refused", lambda root, tmp: BodyModel(_smpl_npz(tmp, drop="posedirs")),
         BodyModelError, (r"model\.npz", r"posedirs")),
    Case("SMPL file of another model", "refused", lambda root, tmp: BodyModel(_smpl_npz(tmp, vertices=10475)),
         BodyModelError, (r"model\.npz has 10475 vertices", r"SMPL")),
    Case("SMPL pickle that runs code", "refused",
         lambda root, tmp: (
             (tmp / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps({"v_template": _payload(tmp)}, protocol=2)),
             BodyModel(tmp / "SMPL_NEUTRAL.pkl"),
         ),
         UnsafePickleError, (r"SMPL_NEUTRAL\.pkl|refused",)),
    # checkpoints
    Case("checkpoint from another architecture", "refused",
         lambda root, tmp: load_trained(_foreign_architecture(tmp, root)),
         ValueError, (r"checkpoint .*checkpoint\.pt: its weights do not fit", r"another architecture")),
    Case("checkpoint that is not hybridlib's", "refused",
         lambda root, tmp: (torch.save({"state_dict": {}}, tmp / "other.pt"), load_trained(tmp / "other.pt")),
         ValueError, (r"other\.pt is not a hybridlib checkpoint",)),
    Case("checkpoint that runs code", "refused",
         lambda root, tmp: (
             (tmp / "evil.pt").write_bytes(pickle.dumps({"model": _payload(tmp)}, protocol=2)),
             load_trained(tmp / "evil.pt"),
         ),
         ValueError, (r"cannot read checkpoint .*evil\.pt", r"not a hybridlib checkpoint or it is damaged")),
    Case("SPIN checkpoint of another layout", "refused",
         lambda root, tmp: (
             torch.save({"model": {"fc.weight": torch.zeros(2)}}, tmp / "spin.pt"),
             load_spin_checkpoint(tmp / "spin.pt"),
         ),
         SpinCheckpointError, (r"spin\.pt is not in SPIN's layout", r"Expected a ResNet-50")),
    # notebook / study parameters
    Case("unknown preset", "refused",
         lambda root, tmp: resolve_settings("02_lsp_ablation", PRESET="fast", OUT_DIR=str(tmp)),
         ParameterError, (r"PRESET must be one of \['cpu', 'demo', 'paper', 'smoke'\]",)),
    Case("wrong parameter type", "refused",
         lambda root, tmp: resolve_settings("02_lsp_ablation", EPOCHS="3", OUT_DIR=str(tmp)),
         ParameterError, (r"EPOCHS must be a positive int or None, got '3'",)),
    Case("DATA_DIR that does not exist", "refused",
         lambda root, tmp: resolve_settings("02_lsp_ablation", DATA_DIR=str(tmp / "nowhere"), OUT_DIR=str(tmp)),
         ParameterError, (r"DATA_DIR .*nowhere is not a folder", r"lsp/, lsp_ext/, up-s1h/, mosh/")),
    Case("BODY_MODEL that does not exist", "refused",
         lambda root, tmp: resolve_settings("02_lsp_ablation", BODY_MODEL=str(tmp / "SMPL.pkl"), OUT_DIR=str(tmp)),
         ParameterError, (r"BODY_MODEL .*SMPL\.pkl does not exist", r"licensed SMPL")),
    Case("output folder that is not writable", "refused",
         lambda root, tmp: (
             (tmp / "a-file").write_text("x"),
             resolve_settings("02_lsp_ablation", OUT_DIR=str(tmp / "a-file" / "results")),
         ),
         ParameterError, (r"OUT_DIR .*a-file/results is not a writable folder", r"give a folder you can write to")),
    Case("unknown training setting", "refused",
         lambda root, tmp: TrainConfig.from_dict({"data_root": str(root), "out_dir": str(tmp), "learning_rate": 1e-4}),
         ValueError, (r"unknown TrainConfig fields \['learning_rate'\]", r"known:")),
    Case("data folder without lsp/", "refused",
         lambda root, tmp: (shutil.rmtree(root / "lsp"), require_usable(root, progress=False)),
         DataCheckError, (r"cannot be used: lsp \(absent\)", r"no lsp/ folder \(needed by 01_overfit_8_images")),
    # person boxes for predict
    Case("person box that is not [x0, y0, x1, y1]", "refused",
         lambda root, tmp: ((tmp / "boxes.json").write_text('{"a.jpg": [5, 5, 2]}'), read_boxes(tmp / "boxes.json")),
         ValueError, (r"boxes\.json: the box of 'a\.jpg' is \[5, 5, 2\]", r"x1 > x0, y1 > y0")),
    Case("boxes file that is not JSON", "refused",
         lambda root, tmp: ((tmp / "boxes.json").write_text("a.jpg 1 2 3 4"), read_boxes(tmp / "boxes.json")),
         ValueError, (r"cannot read the boxes file .*boxes\.json", r'\{"photo\.jpg": \[x0, y0, x1, y1\]\}')),
    Case("OpenPose file that is not OpenPose JSON", "refused",
         lambda root, tmp: (
             (tmp / "a_keypoints.json").write_text('{"persons": []}'),
             read_openpose_boxes(tmp, [tmp / "a.jpg"]),
         ),
         ValueError, (r"a_keypoints\.json is not OpenPose keypoint JSON", r"pose_keypoints_2d")),
    # folders two processes would share
    Case("run folder another process trains in", "refused", lambda root, tmp: _train_in_a_held_folder(root, tmp),
         FolderBusyError, (r"run is in use by process \d+ on .*\(training, since", r"--wait")),
    Case("checkpoint precision that does not exist", "refused",
         lambda root, tmp: load_trained(_foreign_architecture(tmp, root), precision="fp16"),
         ValueError, (r"precision must be one of \('fp32', 'bf16-mixed'\) or None \(the checkpoint's\)",)),
]  # fmt: skip


def _set(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array = array.astype(np.float64)
    array[index] = value
    return array


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _to_16_bit(image: Image.Image) -> Image.Image:
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
    return Image.fromarray(grey)  # uint16 → PIL mode I;16


def _blank_silhouette(path: Path) -> None:
    with Image.open(path) as silhouette:
        Image.new(silhouette.mode, silhouette.size, 0).save(path)


def _amass(root: Path, poses: np.ndarray) -> Path:
    for old in (root / "mosh").iterdir():
        old.unlink()
    path = root / "mosh" / "subject.npz"
    np.savez(path, poses=poses, betas=np.zeros(16))
    return path


def _foreign_architecture(tmp: Path, root: Path) -> Path:
    """A hybridlib checkpoint whose weights are a ResNet-34 while its configuration says ResNet-18."""
    config = TrainConfig(
        data_root=str(root),
        out_dir=str(tmp / "run"),
        backbone="resnet18",
        image_size=64,
        pretrained=False,
        body_model=str(OPEN_BODY_MODEL_LITE),
        critic="none",
    )
    other = build_networks(replace(config, backbone="resnet34").networks, BodyModel(config.body_model))
    return save_checkpoint(
        tmp / "checkpoint.pt",
        {"config": config.to_dict(), "model": other.model.state_dict(), "critic": None, "step": 3},
    )


def _real_poses(root: Path) -> np.ndarray:
    """The generated MoSh set's poses (N,72), radians."""
    return read_mocap_folder(root / "mosh").poses.astype(np.float64)


def _scale_coordinates(joints: np.ndarray, factor: float) -> np.ndarray:
    """LSP's joints (3,14,N) with x and y scaled: labels drawn on images ``factor`` times as large."""
    scaled = joints.copy()
    scaled[:2] *= factor
    return scaled


def _train_in_a_held_folder(root: Path, tmp: Path) -> None:
    """Training into a folder another holder has (a second lock on it conflicts as another
    process's would: the lock is per open file)."""
    config = TrainConfig(
        data_root=str(root), out_dir=str(tmp / "run"), backbone="resnet18", image_size=64, pretrained=False,
        body_model=str(OPEN_BODY_MODEL_LITE), critic="none", max_steps=1, progress=False,
    )  # fmt: skip
    with hold_folder(config.out_dir, "training"):
        train(config)


def _expect_len(result, count: int) -> None:
    dataset, _ = result
    assert len(dataset) == count


def _expect_rgb(result, not_saturated: bool = False) -> None:
    _, samples = result
    image = samples[0].image  # normalised (3,S,S)
    assert image.shape[0] == 3 and torch.isfinite(image).all()
    if not_saturated:  # a clipped 16-bit image would be almost all white
        assert image.std() > 0.1


def _expect_without_silhouette(result, index: int) -> None:
    _, samples = result
    assert not samples[index].has_silhouette and samples[1].has_silhouette


@pytest.fixture()
def data_root(generated_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(generated_root, root)
    return root


def test_the_corpus_has_at_least_50_cases_and_each_is_in_docs_errors_md():
    assert len(CASES) >= 50 and len({case.name for case in CASES}) == len(CASES)
    documented = ERRORS_DOC.read_text()
    for case in CASES:
        row = re.search(rf"^\| {re.escape(case.name)} \|[^\n]*\| {case.outcome}\b", documented, flags=re.MULTILINE)
        assert row, f"docs/errors.md has no row '| {case.name} | … | {case.outcome} …'"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, data_root: Path, tmp_path: Path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if case.outcome == "refused":
        with pytest.raises(BaseException) as raised:
            case.run(data_root, scratch)
        assert type(raised.value) is case.error, f"{type(raised.value).__name__}: {raised.value}"
        for pattern in case.message:
            assert re.search(pattern, str(raised.value)), f"message lacks {pattern!r}: {raised.value}"
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = case.run(data_root, scratch)
        messages = [str(warning.message) for warning in caught]
        if case.warning:
            assert any(re.search(case.warning, message) for message in messages), messages
        case.check(result)
    assert not (scratch / "payload-ran").exists(), "a pickle payload ran"
