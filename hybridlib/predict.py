"""Images → Θ and overlays with a trained checkpoint.

    python -m hybridlib.predict --checkpoint CKPT --images DIR --out DIR

For every ``*.jpg`` / ``*.png`` in ``--images`` (an LSP-style image: one person, roughly
centred and filling most of it), writes ``OUT/<name>.npz`` (``theta`` (85,) of the last
stage, its parts ``camera``, ``global_orient``, ``body_pose``, ``betas``, the 2D keypoints
``keypoints_px`` (14,2) in the image's pixels and ``joints_3d`` (14,3) metres) and
``OUT/<name>_overlay.png`` (the mesh and keypoints over the image). The image is padded to a
square (bottom/right) and resized to the model's input size: no keypoints are needed.
Callable from a notebook as :func:`predict_images`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from hybridlib.data.dataset import read_image
from hybridlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from hybridlib.evaluation.evaluate import load_trained
from hybridlib.geometry import normalized_to_pixels
from hybridlib.models.forward import Networks, predict, resolve_device
from hybridlib.precision import INFERENCE_PRECISIONS
from hybridlib.rendering import draw_keypoints, overlay_mesh, write_image
from hybridlib.skeleton import join_theta, split_theta

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ImagePrediction:
    """theta (85,); keypoints_px (14,2) in the original image's pixels; overlay (H,W,3) uint8."""

    image_path: Path
    theta: np.ndarray
    keypoints_px: np.ndarray
    joints_3d: np.ndarray
    overlay: np.ndarray


def square_input(image: np.ndarray, input_size: int) -> tuple[torch.Tensor, int]:
    """Pad an RGB image (H,W,3) to a square (bottom/right, black) of side max(H,W), resize it
    to ``input_size`` and ImageNet-normalise: (3,S,S) and the square's side."""
    height, width = image.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), np.uint8)
    square[:height, :width] = image
    resized = cv2.resize(
        square, (input_size, input_size), interpolation=cv2.INTER_AREA if side > input_size else cv2.INTER_LINEAR
    )
    normalised = (resized.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(normalised.transpose(2, 0, 1).copy()), side


@torch.no_grad()
def predict_images(
    networks: Networks, image_paths: list[Path], input_size: int, device: str = "auto", progress: bool = True
) -> list[ImagePrediction]:
    """Predict every image; overlays are drawn at the image's own resolution."""
    device_ = resolve_device(device)
    networks.model.to(device_).eval()
    networks.body_model.to(device_)
    results = []
    for path in tqdm(image_paths, desc="predicting", unit="img", disable=not progress):
        image = read_image(path)
        model_input, side = square_input(image, input_size)
        pred = predict(networks, model_input[None].to(device_))
        # the crop is a uniform scaling of the padded square: same normalised coordinates
        keypoints_px = normalized_to_pixels(pred.keypoints_2d[0], side).cpu().numpy()
        square = np.zeros((side, side, 3), np.uint8)
        square[: image.shape[0], : image.shape[1]] = image
        overlay = overlay_mesh(square, pred.output.vertices[0], networks.body_model.faces, pred.parts.camera[0])
        overlay = draw_keypoints(overlay, keypoints_px, radius=max(2, side // 100))[: image.shape[0], : image.shape[1]]
        results.append(
            ImagePrediction(
                path,
                join_theta(pred.parts)[0].cpu().numpy(),
                keypoints_px,
                pred.output.keypoints_lsp[0].cpu().numpy(),
                overlay,
            )
        )
    return results


def write_predictions(predictions: list[ImagePrediction], out_dir: Path) -> None:
    """``<name>.npz`` and ``<name>_overlay.png`` per prediction."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for prediction in predictions:
        np.savez(
            out_dir / f"{prediction.image_path.stem}.npz",
            theta=prediction.theta,
            **vars(split_theta(prediction.theta)),  # camera, global_orient, body_pose, betas
            keypoints_px=prediction.keypoints_px,
            joints_3d=prediction.joints_3d,
        )
        write_image(out_dir / f"{prediction.image_path.stem}_overlay.png", prediction.overlay)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True, help="folder of .jpg/.png images")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--precision", choices=INFERENCE_PRECISIONS, default=None, help="default: the one the checkpoint trained in"
    )
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        parser.error(f"--images {args.images} is not a folder")
    image_paths = sorted(path for path in args.images.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    if not image_paths:
        parser.error(f"{args.images} holds no .jpg or .png images")
    networks, config, _ = load_trained(args.checkpoint, args.precision)
    write_predictions(predict_images(networks, image_paths, config.image_size, args.device), args.out)
    print(f"wrote Θ and overlays of {len(image_paths)} images to {args.out.resolve()}")
    return args.out


if __name__ == "__main__":
    main()
