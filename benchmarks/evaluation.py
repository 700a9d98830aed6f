"""Where an evaluation's time goes, per test image, and its two costliest parts against their
former implementations, measured side by side in one run.

    .venv/bin/python -m benchmarks.evaluation [--data DIR] [--images 96] [--image-size 128] [--repeats 3]

DIR: a generated data folder (default: the ``demo`` preset's set, generated on first use). The
"predictions" are the test images' true bodies under a camera slightly off (no network needed),
posed by the full open body model at the cpu preset's crop size. Prints median ms per image of:
- the silhouette IoU's rendering: every face painted (the former rule) vs the front faces only
  (:func:`hybridlib.rendering.render_silhouette`), their ratio, and how many pixels and how much
  IoU with the ground truth differ;
- the authors' MR (:func:`hybridlib.evaluation.authors_scale.mesh_error_sums`): one image after
  another (the former loop) vs one image per thread, their ratio and largest difference;
- a whole :func:`hybridlib.evaluation.evaluate` of the trivial predictor (everything but the
  encoder), for the share the two parts are of it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.timing import median_seconds
from hybridlib.body_model import OPEN_BODY_MODEL, BodyModel
from hybridlib.data import AugmentationConfig, DataConfig, build_dataset, collate_samples
from hybridlib.evaluation import EvaluationConfig, evaluate_trivial
from hybridlib.evaluation.authors_scale import mesh_error_sum, mesh_error_sums
from hybridlib.geometry import normalized_to_pixels, weak_perspective_projection
from hybridlib.losses.silhouette import REFERENCE_CROP_SIZE
from hybridlib.machine import machine_description
from hybridlib.rendering import SUPERSAMPLING, paint_triangles, project_to_pixels, render_silhouette
from hybridlib.studies import resolve_settings
from hybridlib.studies.runner import ensure_data


def every_face_silhouette(vertices: np.ndarray, faces: np.ndarray, camera: np.ndarray, image_size: int) -> np.ndarray:
    """The former rule: every face painted, back faces included (the mask (S,S) bool)."""
    fine_size = image_size * SUPERSAMPLING
    canvas = np.zeros((fine_size, fine_size), np.uint8)
    paint_triangles(canvas, project_to_pixels(vertices, camera, fine_size)[:, :2], faces, [255] * len(faces))
    return cv2.resize(canvas, (image_size, image_size), interpolation=cv2.INTER_AREA) >= 128


def _iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max(1, (predicted | truth).sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    data = args.data or ensure_data(resolve_settings("bench", PRESET="demo"))
    crops = AugmentationConfig(image_size=args.image_size, augment=False)
    dataset = build_dataset(DataConfig(root=data, augmentation=crops), "test")
    count = min(args.images, len(dataset))
    batch = collate_samples([dataset[index] for index in range(count)])
    body_model = BodyModel(OPEN_BODY_MODEL)
    with torch.no_grad():
        vertices = body_model(batch.pose[:, :3], batch.pose[:, 3:], batch.betas).vertices
    camera = batch.camera + torch.tensor([0.0, 0.04, -0.03])  # a prediction slightly off
    vertices_px = normalized_to_pixels(weak_perspective_projection(vertices, camera), args.image_size)
    vertices_np, camera_np, faces = vertices.numpy(), camera.numpy(), body_model.faces
    truth = batch.silhouette.numpy()
    images = [index for index in range(count) if batch.has_silhouette[index]]
    print(f"{len(images)} test images with a silhouette from {data}, {args.image_size}-px crops, {len(faces)} faces")

    def former_silhouettes() -> list[np.ndarray]:
        return [every_face_silhouette(vertices_np[i], faces, camera_np[i], args.image_size) for i in images]

    def front_silhouettes() -> list[np.ndarray]:
        return [render_silhouette(vertices_np[i], faces, camera_np[i], args.image_size) for i in images]

    scale = REFERENCE_CROP_SIZE / args.image_size

    def former_mesh_sums() -> list[float]:
        return [
            mesh_error_sum(vertices_px[i], batch.silhouette[i], batch.has_silhouette[i], scale) for i in range(count)
        ]

    def threaded_mesh_sums() -> torch.Tensor:
        return mesh_error_sums(vertices_px, batch.silhouette, batch.has_silhouette)

    evaluation = EvaluationConfig(max_images=count, progress=False)
    seconds = median_seconds(
        former_silhouettes,
        front_silhouettes,
        former_mesh_sums,
        threaded_mesh_sums,
        lambda: evaluate_trivial(data, OPEN_BODY_MODEL, args.image_size, evaluation),
        repeats=args.repeats,
    )
    per_image = [1e3 * value / count for value in seconds]
    former, front = former_silhouettes(), front_silhouettes()
    pixels = [int((a != b).sum()) for a, b in zip(former, front, strict=True)]
    iou_change = [_iou(b, truth[i]) - _iou(a, truth[i]) for i, a, b in zip(images, former, front, strict=True)]
    sums_difference = np.nanmax(np.abs(np.array(former_mesh_sums()) - threaded_mesh_sums().numpy()))
    print(
        f"silhouette for the IoU: every face {per_image[0]:.1f} ms/image, front faces {per_image[1]:.1f} ms/image, "
        f"{seconds[0] / seconds[1]:.2f}x; pixels that differ per image: mean {np.mean(pixels):.2f}, max "
        f"{max(pixels)} of {args.image_size**2}; IoU with the ground truth, front − every: mean "
        f"{np.mean(iou_change):+.2e}, largest {max(iou_change, key=abs):+.2e}"
    )
    print(
        f"authors' MR: one image after another {per_image[2]:.1f} ms/image, one per thread "
        f"({torch.get_num_threads()}) {per_image[3]:.1f} ms/image, {seconds[2] / seconds[3]:.2f}x; largest "
        f"difference {sums_difference:.1e}"
    )
    print(
        f"whole evaluation of the trivial predictor (no encoder): {per_image[4]:.1f} ms/image; the two parts, "
        f"as now, {(per_image[1] + per_image[3]) / per_image[4]:.0%} of it"
    )


if __name__ == "__main__":
    main()
