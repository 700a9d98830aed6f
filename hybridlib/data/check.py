"""Check a data folder before training, so that a bad folder fails in seconds, not hours:

    python -m hybridlib.data.check DATA_DIR [--needs lsp,lsp_ext,up-s1h,mosh]

One row per dataset (lsp, lsp_ext, up-s1h, mosh): its files and labels, images missing and
unlabelled, visible keypoints and those outside their image, silhouettes present / missing / of
another size than their image, files that fail to decode, poses and their value range. Every
image and silhouette is decoded once, in parallel, with a progress bar; what was decoded is
remembered by file size and modification time (``DATA_DIR/.check-cache.json``, or the
workspace's ``data/.check-cache/`` where DATA_DIR is read-only), so a second check only reads
the folder listing.

Each dataset ends as one of:
- ``ok``;
- ``incomplete``: usable, with a warning (e.g. the real UP-S1h covers 8,642 of LSP extended's
  10,000 images; a few labels without an image are skipped);
- ``absent``: the folder is missing — fine for the studies that do not need it (the row says
  which do);
- ``unusable``: the readers refuse it (their message, with the fix, is the row's note), or files
  fail to decode. The command exits 1 when a dataset the caller needs is unusable or absent.

The thresholds are the readers' (:mod:`hybridlib.data.lsp`: more than half the labels without
an image, or more than half the visible keypoints outside their images, or keypoints spanning
under a quarter of their images, refuse LSP / LSP extended; :mod:`hybridlib.data.mocap`: poses
whose 99th percentile of |value| exceeds 2π are degrees) plus: any file that fails to decode
makes its dataset unusable (the loader would stop on it mid-epoch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from hybridlib.atomic_write import atomic_write_text
from hybridlib.data.dataset import read_image
from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.folders import LSP_FOLDER, LSPET_FOLDER, MOSH_FOLDER, UP_S1H_FOLDER
from hybridlib.data.lsp import KeypointSet, read_joints_mat, read_lsp, read_lspet
from hybridlib.data.mocap import read_mocap_folder
from hybridlib.data.up_s1h import silhouette_path
from hybridlib.paths import data_root

DATASETS = (LSP_FOLDER, LSPET_FOLDER, UP_S1H_FOLDER, MOSH_FOLDER)
# what each study reads (the KCS critic's real poses come from mosh/; L_mr's silhouettes from up-s1h/)
STUDY_NEEDS = {
    "01_overfit_8_images": (LSP_FOLDER, UP_S1H_FOLDER, MOSH_FOLDER),
    "02_lsp_ablation": (LSP_FOLDER, UP_S1H_FOLDER, MOSH_FOLDER),
    "03_lspet_vs_hmr": (LSP_FOLDER, LSPET_FOLDER, UP_S1H_FOLDER, MOSH_FOLDER),
}
CACHE_NAME = ".check-cache.json"


class DataCheckError(ValueError):
    """A dataset the caller needs is unusable or absent; the message is the check's table and the fixes."""


@dataclass
class DatasetReport:
    """One row of the check: the dataset's folder name, its status, what was counted, and a note
    (the reader's refusal with its fix, or what is incomplete)."""

    dataset: str
    status: str  # "ok" | "incomplete" | "absent" | "unusable"
    counts: dict[str, object] = field(default_factory=dict)
    note: str = ""


@dataclass
class DataCheck:
    """The check of one data folder: a report per dataset."""

    data_dir: Path
    reports: list[DatasetReport]

    def table(self) -> pd.DataFrame:
        rows = [{"dataset": report.dataset, "status": report.status, **report.counts} for report in self.reports]
        table = pd.DataFrame(rows).astype(object)
        return table.where(table.notna(), "")

    def failures(self, needs: tuple[str, ...] = DATASETS) -> list[DatasetReport]:
        """The needed datasets that are unusable or absent."""
        return [
            report for report in self.reports if report.dataset in needs and report.status in ("unusable", "absent")
        ]

    def text(self) -> str:
        """The table, then one line per note."""
        notes = [f"- {report.dataset} ({report.status}): {report.note}" for report in self.reports if report.note]
        return f"data check of {self.data_dir}\n\n" + self.table().to_markdown(index=False) + "\n\n" + "\n".join(notes)


def _needed_by(dataset: str) -> str:
    studies = [study for study, needs in STUDY_NEEDS.items() if dataset in needs]
    return f"needed by {', '.join(studies)}" if studies else "needed by no study"


# --- decoding every file once, remembered by size and modification time ------------------------


def _cache_path(data_dir: Path) -> Path:
    own = data_dir / CACHE_NAME
    if os.access(data_dir, os.W_OK):
        return own
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return data_root() / ".check-cache" / f"{digest}.json"


def _decode(path: Path) -> str:
    """ "" when ``path`` decodes, else the reason."""
    try:
        read_image(path)
        return ""
    except (DatasetFormatError, FileNotFoundError) as error:
        return str(error)


def decode_failures(data_dir: Path, paths: list[Path], progress: bool = True) -> dict[Path, str]:
    """{path: reason} of the files that fail to decode; each file is decoded at most once per
    (size, modification time), in parallel threads."""
    cache_file = _cache_path(data_dir)
    try:
        cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    except (OSError, ValueError):
        cache = {}  # a damaged cache is rebuilt
    keys = {}
    for path in paths:
        stat = path.stat()
        keys[path] = f"{path.relative_to(data_dir)}|{stat.st_size}|{stat.st_mtime_ns}"
    pending = [path for path in paths if keys[path] not in cache]
    if pending:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = pool.map(_decode, pending)
            for path, reason in tqdm(
                zip(pending, results, strict=True),
                total=len(pending),
                desc="decoding images",
                unit="file",
                disable=not progress,
            ):
                cache[keys[path]] = reason
        live = set(keys.values())
        try:
            atomic_write_text(cache_file, json.dumps({key: cache[key] for key in live}), what="data check cache")
        except OSError:
            pass  # the check still holds; the next one decodes again
    return {path: cache[keys[path]] for path in paths if cache[keys[path]]}


# --- the datasets -------------------------------------------------------------------------------


def _keypoint_report(data_dir: Path, folder: str) -> tuple[DatasetReport, KeypointSet | None]:
    root = data_dir / folder
    if not root.is_dir():
        return DatasetReport(folder, "absent", note=f"no {folder}/ folder ({_needed_by(folder)})"), None
    layout = "lsp" if folder == LSP_FOLDER else "lspet"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keypoint_set = read_lsp(root, "all") if layout == "lsp" else read_lspet(root)
        _, flagged_visible = read_joints_mat(root / "joints.mat", layout)
    except (DatasetFormatError, FileNotFoundError) as error:
        return DatasetReport(folder, "unusable", note=str(error)), None
    image_files = sum(1 for _ in (root / "images").glob("im*.jpg"))
    kept = len(keypoint_set.image_paths)
    labels, flagged = len(flagged_visible), keypoint_set.visible.sum()
    # flagged visible in joints.mat, but outside the image (or written as 0): the reader drops them
    outside = int(flagged_visible[keypoint_set.source_indices].sum() - flagged)
    counts = {
        "files": image_files,
        "labels": labels,
        "images missing": labels - kept,
        "unlabelled images": image_files - kept,
        "visible keypoints": f"{flagged} of {keypoint_set.visible.size} ({flagged / keypoint_set.visible.size:.0%})",
        "keypoints outside their image": outside,
    }
    notes = [str(warning.message) for warning in caught]
    return DatasetReport(folder, "incomplete" if notes else "ok", counts, "; ".join(notes)), keypoint_set


def _silhouette_report(data_dir: Path, keypoint_sets: dict[str, KeypointSet]) -> tuple[DatasetReport, list[Path]]:
    up_root = data_dir / UP_S1H_FOLDER
    if not up_root.is_dir():
        return DatasetReport(UP_S1H_FOLDER, "absent", note=f"no {UP_S1H_FOLDER}/ folder: L_mr has nothing to "
                             f"compare against ({_needed_by(UP_S1H_FOLDER)})"), []  # fmt: skip
    present, missing, wrong_size, examples = [], {}, [], []
    for layout, keypoint_set in keypoint_sets.items():
        missing[layout] = 0
        for image_path, size in zip(keypoint_set.image_paths, keypoint_set.image_sizes.tolist(), strict=True):
            path = silhouette_path(up_root, layout, image_path)  # type: ignore[arg-type]
            if not path.is_file():
                missing[layout] += 1
                continue
            present.append(path)
            try:
                with Image.open(path) as silhouette:  # the header only
                    if silhouette.size != tuple(size):
                        wrong_size.append(path)
                        examples.append(f"{path.name} is {silhouette.size[0]}×{silhouette.size[1]}, its image "
                                        f"{size[0]}×{size[1]}")  # fmt: skip
            except OSError:
                pass  # counted by the decoding pass
    counts = {
        "files": len(present),
        "silhouettes missing": ", ".join(f"{layout} {count}" for layout, count in missing.items()),
        "silhouettes of another size": len(wrong_size),
    }
    if wrong_size:
        note = (
            f"{len(wrong_size)} silhouettes differ in size from their image (e.g. {examples[0]}): UP-S1h silhouettes "
            "are pixel-aligned with the original images; use the matching, unresized files"
        )
        return DatasetReport(UP_S1H_FOLDER, "unusable", counts, note), present
    if any(missing.values()):
        note = "images without a silhouette train without L_mr (the real UP-S1h covers 8,642 of LSP extended's 10,000)"
        return DatasetReport(UP_S1H_FOLDER, "incomplete", counts, note), present
    return DatasetReport(UP_S1H_FOLDER, "ok", counts), present


def _mocap_report(data_dir: Path) -> DatasetReport:
    folder = data_dir / MOSH_FOLDER
    if not folder.is_dir():
        return DatasetReport(MOSH_FOLDER, "absent", note=f"no {MOSH_FOLDER}/ folder: the KCS critic has no real "
                             f"poses ({_needed_by(MOSH_FOLDER)})")  # fmt: skip
    try:
        mocap = read_mocap_folder(folder)
    except (DatasetFormatError, FileNotFoundError) as error:
        return DatasetReport(MOSH_FOLDER, "unusable", note=str(error))
    magnitudes = np.abs(mocap.poses)
    counts = {
        "files": len(set(mocap.source_files)),
        "poses": len(mocap),
        "pose values (rad)": f"{mocap.poses.min():.2f} … {mocap.poses.max():.2f} (99th pct |·| "
        f"{np.percentile(magnitudes, 99):.2f})",
        "betas": f"{mocap.betas.min():.2f} … {mocap.betas.max():.2f}",
    }
    return DatasetReport(MOSH_FOLDER, "ok", counts)


def check_data(data_dir: str | Path, progress: bool = True) -> DataCheck:
    """Check every dataset of ``data_dir`` (see the module docstring)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist: give the folder holding {', '.join(DATASETS)}")
    reports, keypoint_sets = {}, {}
    for folder in (LSP_FOLDER, LSPET_FOLDER):
        reports[folder], keypoint_set = _keypoint_report(data_dir, folder)
        if keypoint_set is not None:
            keypoint_sets["lsp" if folder == LSP_FOLDER else "lspet"] = keypoint_set
    reports[UP_S1H_FOLDER], silhouettes = _silhouette_report(data_dir, keypoint_sets)
    reports[MOSH_FOLDER] = _mocap_report(data_dir)

    images = {layout: list(keypoint_set.image_paths) for layout, keypoint_set in keypoint_sets.items()}
    failed = decode_failures(data_dir, [path for paths in images.values() for path in paths] + silhouettes, progress)
    folder_of = {"lsp": LSP_FOLDER, "lspet": LSPET_FOLDER}
    owners = [(folder_of[layout], paths) for layout, paths in images.items()] + [(UP_S1H_FOLDER, silhouettes)]
    for folder, paths in owners:
        broken = [path for path in paths if path in failed]
        reports[folder].counts["fail to decode"] = len(broken)
        if broken:
            reports[folder].status = "unusable"
            failing = "1 file fails" if len(broken) == 1 else f"{len(broken)} files fail"
            reports[folder].note = (
                f"{failing} to decode (e.g. {failed[broken[0]]}); training would stop on them mid-epoch. "
                + reports[folder].note
            ).strip()
    return DataCheck(data_dir, [reports[folder] for folder in DATASETS])


def require_usable(data_dir: str | Path, needs: tuple[str, ...] = DATASETS, progress: bool = True) -> DataCheck:
    """:func:`check_data`, raising :class:`DataCheckError` (the table and the fixes) when a needed
    dataset is unusable or absent — what the studies call first."""
    check = check_data(data_dir, progress)
    failures = check.failures(needs)
    if failures:
        names = ", ".join(f"{report.dataset} ({report.status})" for report in failures)
        raise DataCheckError(f"{data_dir} cannot be used: {names}.\n\n{check.text()}")
    return check


def main(argv: list[str] | None = None) -> DataCheck:
    parser = argparse.ArgumentParser(
        prog="python -m hybridlib.data.check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", type=Path)
    parser.add_argument(
        "--needs", default=",".join(DATASETS), help=f"comma-separated datasets that must be usable (of {DATASETS})"
    )
    args = parser.parse_args(argv)
    needs = tuple(name.strip() for name in args.needs.split(",") if name.strip())
    unknown = sorted(set(needs) - set(DATASETS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {', '.join(DATASETS)}")
    if not args.data_dir.is_dir():
        parser.error(f"{args.data_dir} is not a folder")
    check = check_data(args.data_dir)
    print(check.text())
    failures = check.failures(needs)
    if failures:
        print(f"\nunusable for this use: {', '.join(report.dataset for report in failures)} (see the notes above)")
        sys.exit(1)
    return check


if __name__ == "__main__":
    main()
