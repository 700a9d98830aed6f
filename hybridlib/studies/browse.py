"""An ipywidgets browser for datasets and trained runs (``notebooks/04_browse.ipynb``): pick a
dataset split and an index — and optionally a run's checkpoint — and see the crop with its
keypoints and silhouette, the predicted mesh over it, and that image's losses.

:func:`render_view` does the work and returns plain data (an RGB image and a dict of
numbers), so it is testable without a browser; :func:`browser` wires it to widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from hybridlib.data import AugmentationConfig, DataConfig, build_dataset, collate_samples
from hybridlib.data.preview import draw_sample
from hybridlib.data.transforms import denormalise_image
from hybridlib.evaluation.evaluate import load_trained
from hybridlib.geometry import normalized_to_pixels
from hybridlib.losses.keypoints import keypoint_reprojection_loss
from hybridlib.losses.silhouette import mesh_reprojection_loss, reference_pixel_scale
from hybridlib.losses.weights import W_KPR, W_MR
from hybridlib.models.forward import Networks, predict
from hybridlib.rendering import draw_keypoints, overlay_mesh

if TYPE_CHECKING:
    import ipywidgets

SPLITS = ("LSP train", "LSP test", "LSP extended")


@dataclass
class View:
    """One browsed image: the picture (H,W,3) uint8 and the numbers shown beside it."""

    image: np.ndarray
    numbers: dict[str, float | str]


def dataset_for(data_dir: Path, split: str, image_size: int = 224) -> torch.utils.data.Dataset:
    """Centred crops of one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    crops = AugmentationConfig(image_size=image_size, augment=False)
    if split == "LSP extended":
        full = build_dataset(DataConfig(root=data_dir, use_lspet=True, augmentation=crops), "train")
        return full.datasets[1]
    return build_dataset(DataConfig(root=data_dir, augmentation=crops), "train" if split == "LSP train" else "test")


@torch.no_grad()
def render_view(dataset: torch.utils.data.Dataset, index: int, networks: Networks | None = None) -> View:
    """The sample drawn with its labels; with ``networks``, the prediction beside it and the
    image's weighted losses (the authors' w_kpr and w_mr, as validated)."""
    sample = dataset[index]
    labelled = draw_sample(sample)
    numbers: dict[str, float | str] = {
        "image": Path(sample.image_path).name,
        "visible keypoints": int((sample.keypoints_2d[:, 2] > 0).sum()),
    }
    if networks is None:
        return View(labelled, numbers)
    batch = collate_samples([sample])
    networks.model.eval()
    image_size = sample.image.shape[-1]
    pred = predict(networks, batch.image)
    crop = denormalise_image(sample.image.permute(1, 2, 0).numpy())
    predicted = overlay_mesh(crop, pred.output.vertices[0], networks.body_model.faces, pred.parts.camera[0])
    predicted = draw_keypoints(
        predicted, normalized_to_pixels(pred.keypoints_2d[0], image_size), colour=(255, 255, 0), radius=2
    )
    numbers[f"KPR loss (×{W_KPR:g})"] = round(
        W_KPR * keypoint_reprojection_loss(pred.keypoints_2d, batch.keypoints_2d).item(), 4
    )
    if sample.has_silhouette:
        mesh_loss = mesh_reprojection_loss(
            pred.vertices_px, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest
        )
        numbers[f"MR loss (×{W_MR:g})"] = round(W_MR * mesh_loss.item() * reference_pixel_scale(image_size), 4)
    else:
        numbers[f"MR loss (×{W_MR:g})"] = "no silhouette"
    return View(np.concatenate([labelled, predicted], axis=1), numbers)


def browser(
    data_dir: str | Path, checkpoints: list[str | Path] | None = None, image_size: int = 224
) -> ipywidgets.VBox:
    """An ipywidgets VBox: split, index, run (or none) → picture and numbers."""
    import ipywidgets as widgets  # only needed in a notebook

    data_dir = Path(data_dir)
    runs = {"(no run: labels only)": None, **{str(Path(path).parent.name): Path(path) for path in (checkpoints or [])}}
    split_picker = widgets.Dropdown(options=SPLITS, description="split")
    run_picker = widgets.Dropdown(options=list(runs), description="run")
    index_picker = widgets.IntSlider(min=0, max=0, description="index", continuous_update=False)
    picture = widgets.Image(format="png")
    table = widgets.HTML()
    cache: dict[object, object] = {}

    def cached(key: Hashable, build: Callable[[], object]) -> object:
        if key not in cache:
            cache[key] = build()
        return cache[key]

    def update(*_) -> None:
        checkpoint = runs[run_picker.value]
        networks = cached(checkpoint, lambda: load_trained(checkpoint)[0]) if checkpoint is not None else None
        size = (
            cached(("size", checkpoint), lambda: load_trained(checkpoint)[1].image_size)
            if checkpoint is not None
            else image_size
        )
        dataset = cached((split_picker.value, size), lambda: dataset_for(data_dir, split_picker.value, size))
        index_picker.max = len(dataset) - 1
        view = render_view(dataset, min(index_picker.value, len(dataset) - 1), networks)
        picture.value = cv2.imencode(".png", cv2.cvtColor(view.image, cv2.COLOR_RGB2BGR))[1].tobytes()
        table.value = (
            "<table>"
            + "".join(f"<tr><td>{key}</td><td>{value}</td></tr>" for key, value in view.numbers.items())
            + "</table>"
        )

    for control in (split_picker, run_picker, index_picker):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([split_picker, run_picker, index_picker]), widgets.HBox([picture, table])])
