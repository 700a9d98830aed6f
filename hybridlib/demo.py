"""Render the body model in a few poses and shapes (the README's gallery):

    python -m hybridlib.demo --out DIR [--body-model PATH]

(``make demo`` runs the studies: ``python -m hybridlib.studies --preset demo``.)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from hybridlib.body_model import BodyModel
from hybridlib.geometry import UPRIGHT_GLOBAL_ORIENT
from hybridlib.rendering import render_mesh, tile_images, write_image
from hybridlib.skeleton import BODY_JOINT_NAMES, NUM_BETAS, NUM_BODY_JOINTS


@dataclass(frozen=True)
class DemoBody:
    """One picture: a name, joint rotations {SMPL joint name: axis-angle (3,)} and β values."""

    name: str
    joint_rotations: dict[str, tuple[float, float, float]]
    betas: dict[int, float]


ARMS_DOWN = {"left_shoulder": (0.0, 0.0, -1.2), "right_shoulder": (0.0, 0.0, 1.2)}
DEMO_BODIES = (
    DemoBody("t_pose", {}, {}),
    DemoBody("arms_down", ARMS_DOWN, {}),
    DemoBody(
        "walking",
        {**ARMS_DOWN, "left_hip": (-0.5, 0.0, 0.0), "right_hip": (0.4, 0.0, 0.0), "right_knee": (0.7, 0.0, 0.0)},
        {},
    ),
    DemoBody(
        "arms_raised",
        {"left_shoulder": (0.0, 0.0, 1.1), "right_shoulder": (0.0, 0.0, -1.1), "left_elbow": (0.0, -0.6, 0.0)},
        {},
    ),
    DemoBody("tall_beta0_+2", ARMS_DOWN, {0: 2.0}),
    DemoBody("short_beta0_-2", ARMS_DOWN, {0: -2.0}),
    DemoBody("beta1_+2", ARMS_DOWN, {1: 2.0}),
    DemoBody("beta1_-2", ARMS_DOWN, {1: -2.0}),
)


def pose_vector(joint_rotations: dict[str, tuple[float, float, float]]) -> torch.Tensor:
    """Body pose (1,69) axis-angle from {SMPL body joint name: rotation}; other joints at rest.
    The pelvis is not a body joint (its rotation is the global orientation): ValueError."""
    body_pose = torch.zeros(1, NUM_BODY_JOINTS, 3)
    for joint_name, rotation in joint_rotations.items():
        if joint_name not in BODY_JOINT_NAMES:
            raise ValueError(
                f"{joint_name!r} is not one of the {NUM_BODY_JOINTS} body joints {BODY_JOINT_NAMES} "
                "(the pelvis rotation is the global orientation)"
            )
        body_pose[0, BODY_JOINT_NAMES.index(joint_name)] = torch.tensor(rotation)
    return body_pose.reshape(1, -1)


def framing_camera(vertices: np.ndarray, fill: float = 0.9) -> np.ndarray:
    """Weak-perspective camera (s, tx, ty) that centres the mesh (V,3) and fills `fill` of the image."""
    low, high = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
    scale = 2.0 * fill / float((high - low).max())
    return np.array([scale, *(-(low + high) / 2.0)])


def render_demo_bodies(body_model: BodyModel, image_size: int = 320) -> dict[str, np.ndarray]:
    """Render each DEMO_BODIES entry upright, facing the camera. Returns {name: RGB image}."""
    global_orient = torch.tensor([UPRIGHT_GLOBAL_ORIENT])
    posed_vertices = {}
    for body in DEMO_BODIES:
        betas = torch.zeros(1, NUM_BETAS)
        for index, value in body.betas.items():
            betas[0, index] = value
        with torch.no_grad():
            posed_vertices[body.name] = (
                body_model(global_orient, pose_vector(body.joint_rotations), betas).vertices[0].numpy()
            )
    # one camera for all bodies, so that their sizes stay comparable
    camera = framing_camera(np.concatenate(list(posed_vertices.values())), fill=0.8)
    return {
        name: render_mesh(vertices, body_model.faces, camera, image_size) for name, vertices in posed_vertices.items()
    }


def gallery(images: dict[str, np.ndarray], columns: int = 4) -> np.ndarray:
    """Tile labelled images (all the same size) into one RGB image."""
    tiles = []
    for name, image in images.items():
        tile = image.copy()
        cv2.putText(tile, name, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    return tile_images(tiles, columns)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/gallery"), help="output folder (created)")
    parser.add_argument(
        "--body-model", type=Path, default=None, help="SMPL .pkl/.npz; default: the embedded open model"
    )
    args = parser.parse_args(argv)

    body_model = BodyModel(args.body_model)
    images = render_demo_bodies(body_model)
    for name, image in images.items():
        write_image(args.out / f"{name}.png", image)
    gallery_path = write_image(args.out / "gallery.png", gallery(images))
    print(f"body model: {body_model.model_path} ({body_model.num_vertices} vertices, {len(body_model.faces)} faces)")
    print(f"rendered {len(images)} bodies to {args.out.resolve()}/ (overview: {gallery_path.resolve()})")
    return gallery_path


if __name__ == "__main__":
    main()
