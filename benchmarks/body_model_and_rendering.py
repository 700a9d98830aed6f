"""Foundation figures: BodyModel forward and forward+backward at batch 8 (full and lite open
model), and render / silhouette time per 224×224 image, measured side by side in one run.

    .venv/bin/python -m benchmarks.body_model_and_rendering [--threads 1] [--repeats 20]

Prints median milliseconds per call and the ratios between the cases (absolute times
drift on shared machines; ratios measured in one run are the figures to compare).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

import cv2
import torch

from benchmarks.timing import median_seconds
from hybridlib.body_model import OPEN_BODY_MODEL, OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.demo import framing_camera
from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.machine import machine_description
from hybridlib.rendering import render_mesh, render_silhouette


def body_model_cases(body_model: BodyModel, batch_size: int) -> dict[str, Callable[[], object]]:
    generator = torch.Generator().manual_seed(0)
    global_orient = torch.zeros(batch_size, 3)
    body_pose = 0.2 * torch.randn(batch_size, 69, generator=generator)
    betas = torch.randn(batch_size, 10, generator=generator)

    def forward() -> None:
        with torch.no_grad():
            body_model(global_orient, body_pose, betas)

    def forward_backward() -> None:
        pose = body_pose.clone().requires_grad_()
        shape = betas.clone().requires_grad_()
        output = body_model(global_orient, pose, shape)
        (output.vertices.sum() + output.keypoints_lsp.sum()).backward()

    return {"forward": forward, "forward+backward": forward_backward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenCV threads (default 1: per-core figures)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    print(f"machine: {machine_description()}")
    rows: list[tuple[str, float]] = []
    models = {"full": BodyModel(OPEN_BODY_MODEL), "lite": BodyModel(OPEN_BODY_MODEL_LITE)}
    for variant, body_model in models.items():
        for case, function in body_model_cases(body_model, args.batch_size).items():
            rows.append(
                (
                    f"BodyModel {variant} ({body_model.num_vertices} V) {case}, batch {args.batch_size}",
                    1e3 * median_seconds(function, repeats=args.repeats, warmup=3)[0],
                )
            )
    for variant, body_model in models.items():
        with torch.no_grad():
            vertices = (
                body_model(torch.tensor([UPRIGHT_GLOBAL_ORIENT]), torch.zeros(1, 69), torch.zeros(1, 10))
                .vertices[0]
                .numpy()
            )
        camera = framing_camera(vertices)
        faces = body_model.faces
        rows.append(
            (
                f"render_mesh {variant} ({len(faces)} F), 224 px",
                1e3
                * median_seconds(
                    functools.partial(render_mesh, vertices, faces, camera, 224), repeats=args.repeats, warmup=3
                )[0],
            )
        )
        rows.append(
            (
                f"render_silhouette {variant}, 224 px",
                1e3
                * median_seconds(
                    functools.partial(render_silhouette, vertices, faces, camera, 224), repeats=args.repeats, warmup=3
                )[0],
            )
        )

    width = max(len(name) for name, _ in rows)
    print(f"{'case':<{width}}  median ms")
    for name, milliseconds in rows:
        print(f"{name:<{width}}  {milliseconds:9.2f}")
    timings = dict(rows)
    names = list(timings)
    print("ratios (same run):")
    print(f"  full / lite forward+backward: {timings[names[1]] / timings[names[3]]:.1f}x")
    print(f"  forward+backward / forward (full): {timings[names[1]] / timings[names[0]]:.1f}x")
    print(f"  render full / render lite: {timings[names[4]] / timings[names[6]]:.1f}x")


if __name__ == "__main__":
    main()
