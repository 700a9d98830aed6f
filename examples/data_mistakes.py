"""The data check on the ordinary mistakes of a new user, one folder per mistake:

    python examples/data_mistakes.py [--out FOLDER]

Generates a small folder in the real LSP / LSP extended / UP-S1h / MoSh formats, copies it once
per mistake, makes that mistake in the copy and prints what ``python -m hybridlib.data.check``
prints for it (its table and the fix), then the exit status the command would return.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from hybridlib.data.check import check_data
from hybridlib.data.generate import GeneratorConfig, generate_dataset


def _original_resolution_labels(root: Path) -> None:
    """LSP's joints.mat of lsp_dataset_original (coordinates ~8x larger) beside the scaled images."""
    path = root / "lsp" / "joints.mat"
    joints = scipy.io.loadmat(path)["joints"]
    joints[:2] *= 8.0
    scipy.io.savemat(path, {"joints": joints})


def _jpeg_cut_inside_its_data(root: Path) -> None:
    path = root / "lsp" / "images" / "im0003.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _silhouette_of_another_size(root: Path) -> None:
    path = sorted((root / "up-s1h" / "data" / "lsp").glob("*_segmentation.png"))[0]
    with Image.open(path) as silhouette:
        silhouette.resize((silhouette.width // 2, silhouette.height // 2)).save(path)


def _most_images_missing(root: Path) -> None:
    for path in sorted((root / "lsp" / "images").glob("im*.jpg"))[4:]:
        path.unlink()


def _layouts_swapped(root: Path) -> None:
    """LSP extended's joints.mat (14x3xN) put into lsp/."""
    shutil.copy(root / "lsp_ext" / "joints.mat", root / "lsp" / "joints.mat")


def _poses_in_degrees(root: Path) -> None:
    for path in sorted((root / "mosh").glob("*.pkl")):
        with open(path, "rb") as handle:
            contents = pickle.load(handle)  # noqa: S301 (the file this script just generated)
        contents["poses"] = np.rad2deg(contents["poses"])
        with open(path, "wb") as handle:
            pickle.dump(contents, handle, protocol=2)


# what a new user gets wrong: the dataset it breaks (None: nothing), and how to make it
MISTAKES: dict[str, tuple[str | None, Callable[[Path], None]]] = {
    "none (the generated folder as it is)": (None, lambda root: None),
    "LSP labels of lsp_dataset_original beside the scaled images": ("lsp", _original_resolution_labels),
    "a JPEG cut inside its data (header intact)": ("lsp", _jpeg_cut_inside_its_data),
    "a silhouette of another size than its image": ("up-s1h", _silhouette_of_another_size),
    "most LSP images missing": ("lsp", _most_images_missing),
    "LSP extended's joints.mat in lsp/": ("lsp", _layouts_swapped),
    "MoSh poses in degrees": ("mosh", _poses_in_degrees),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="where the folders go (default: a temporary folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="hybridlib-mistakes-"))
    clean = generate_dataset(out / "generated", GeneratorConfig(lsp=16, lspet=16, mosh=200), progress=False)
    for index, (mistake, (_, make)) in enumerate(MISTAKES.items()):
        folder = out / f"mistake-{index}"
        shutil.copytree(clean, folder, dirs_exist_ok=True)
        make(folder)
        check = check_data(folder, progress=False)
        print(f"## {mistake}\n\n{check.text()}\n\nexit status: {1 if check.failures() else 0}\n", flush=True)


if __name__ == "__main__":
    main()
