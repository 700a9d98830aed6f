"""Readers for the critic's real samples: SMPL pose/shape sets from MoSh-style pickles and
AMASS-style ``.npz`` files, read unchanged from disk.

- MoSh (Python-2 era pickles, protocol 2, latin-1): ``poses`` (N,72) or ``new_poses`` (N,72)
  axis-angle in SMPL joint order (global orientation first), and ``betas`` (≥10,) or
  (N, ≥10). Read by a restricted unpickler that allows numpy arrays only: a pickle that would
  run code is refused and nothing is executed.
- AMASS: ``poses`` (N, ≥66) (SMPL-H: global orientation + 21 body joints, then hands) and
  ``betas`` (≥10,). SMPL's two hand joints (22, 23) have no AMASS counterpart and are set to
  the rest pose.

Bad input refuses the file (wrong keys or shapes, non-finite values) naming it and the fix;
an empty folder is refused. Nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridlib.data.errors import DATA_HINT, DatasetFormatError
from hybridlib.safe_pickle import load_numpy_pickle
from hybridlib.skeleton import NUM_BETAS, NUM_JOINTS

SMPL_POSE_SIZE = 3 * NUM_JOINTS
AMASS_BODY_POSE_SIZE = 66  # global orientation + 21 body joints


@dataclass(frozen=True)
class MocapSet:
    """poses (N,72) float32 axis-angle radians (SMPL order); betas (N,10) float32;
    source_files: the file each row came from (N,)."""

    poses: np.ndarray
    betas: np.ndarray
    source_files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.poses)


def _betas_per_frame(betas: object, num_frames: int, path: Path) -> np.ndarray:
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim == 1 and betas.shape[0] >= NUM_BETAS:
        return np.broadcast_to(betas[:NUM_BETAS], (num_frames, NUM_BETAS))
    if betas.ndim == 2 and betas.shape[0] == num_frames and betas.shape[1] >= NUM_BETAS:
        return betas[:, :NUM_BETAS]
    raise DatasetFormatError(
        f"{path}: 'betas' has shape {betas.shape}, expected (≥{NUM_BETAS},) or ({num_frames}, ≥{NUM_BETAS})"
    )


DEGREES_THRESHOLD = 2 * np.pi  # radians: axis-angle magnitudes stay within π, a 99th percentile above 2π is degrees


def _checked(poses: np.ndarray, betas: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not (np.isfinite(poses).all() and np.isfinite(betas).all()):
        raise DatasetFormatError(f"{path}: poses or betas contain NaN/inf; the file is corrupt: re-export or remove it")
    if len(poses) and (typical := float(np.percentile(np.abs(poses), 99))) > DEGREES_THRESHOLD:
        raise DatasetFormatError(
            f"{path}: the poses look like degrees, not radians (99th percentile of |value| {typical:.1f}, above "
            f"2π); SMPL's axis-angle poses are in radians: convert with numpy.deg2rad and write the file again"
        )
    return poses.astype(np.float32), betas.astype(np.float32)


def read_mosh_pickle(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One MoSh-style pickle → poses (N,72), betas (N,10), float32."""
    path = Path(path)
    contents = load_numpy_pickle(path)
    if not isinstance(contents, dict):
        raise DatasetFormatError(
            f"{path}: expected a pickled dict with 'poses' (or 'new_poses') and 'betas', got {type(contents).__name__}"
        )
    pose_key = "poses" if "poses" in contents else "new_poses" if "new_poses" in contents else None
    if pose_key is None or "betas" not in contents:
        raise DatasetFormatError(
            f"{path}: a MoSh pickle needs 'poses' (or 'new_poses') and 'betas'; it has {sorted(map(str, contents))}"
        )
    poses = np.asarray(contents[pose_key], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] != SMPL_POSE_SIZE:
        raise DatasetFormatError(
            f"{path}: '{pose_key}' has shape {poses.shape}, expected (N, {SMPL_POSE_SIZE}) SMPL axis-angle poses"
        )
    return _checked(poses, _betas_per_frame(contents["betas"], len(poses), path), path)


def read_amass_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One AMASS-style .npz → poses (N,72) (hand joints at rest), betas (N,10), float32."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in ("poses", "betas") if key in archive.files}
            available = sorted(archive.files)
    except (OSError, ValueError) as error:
        raise DatasetFormatError(
            f"cannot read {path} as .npz ({error}); AMASS files are numpy .npz archives with 'poses' and 'betas'"
        ) from error
    if set(contents) != {"poses", "betas"}:
        raise DatasetFormatError(f"{path}: an AMASS file needs 'poses' and 'betas'; it has {available}")
    poses = np.asarray(contents["poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < AMASS_BODY_POSE_SIZE:
        raise DatasetFormatError(
            f"{path}: 'poses' has shape {poses.shape}, expected (N, ≥{AMASS_BODY_POSE_SIZE}) (global orientation + "
            "21 body joints, as AMASS)"
        )
    smpl_poses = np.zeros((len(poses), SMPL_POSE_SIZE))
    smpl_poses[:, :AMASS_BODY_POSE_SIZE] = poses[:, :AMASS_BODY_POSE_SIZE]
    return _checked(smpl_poses, _betas_per_frame(contents["betas"], len(poses), path), path)


def read_mocap_folder(folder: str | Path) -> MocapSet:
    """All ``*.pkl`` (MoSh) and ``*.npz`` (AMASS) files under ``folder``, in sorted order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"pose/shape folder {folder} does not exist. {DATA_HINT}")
    files = sorted(path for path in folder.rglob("*") if path.suffix in (".pkl", ".npz") and path.is_file())
    if not files:
        raise FileNotFoundError(f"{folder} holds no MoSh .pkl or AMASS .npz files. {DATA_HINT}")
    poses, betas, sources = [], [], []
    for path in files:
        file_poses, file_betas = read_mosh_pickle(path) if path.suffix == ".pkl" else read_amass_npz(path)
        poses.append(file_poses)
        betas.append(file_betas)
        sources += [path] * len(file_poses)
    return MocapSet(poses=np.concatenate(poses), betas=np.concatenate(betas), source_files=tuple(sources))
