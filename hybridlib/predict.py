"""Images → Θ and overlays with a trained checkpoint.

    python -m hybridlib.predict --checkpoint CKPT --images DIR --out DIR [--boxes BOXES.json | --openpose DIR]

For every ``*.jpg`` / ``*.png`` in ``--images``, writes ``OUT/<name>.npz`` (``theta`` (85,) of
the last stage, its parts ``camera`` (of the crop), ``global_orient``, ``body_pose``, ``betas``,
the 2D keypoints ``keypoints_px`` (14,2) in the photo's pixels, ``joints_3d`` (14,3) metres,
``camera_in_image`` (s, tx, ty) projecting onto the photo padded to a square of side max(H, W),
and the ``box`` used) and ``OUT/<name>_overlay.png`` (the mesh and keypoints drawn on the
original photo).

Where the person is: ``--boxes`` a JSON file ``{"photo.jpg": [x0, y0, x1, y1], ...}`` (pixels),
or ``--openpose`` a folder of OpenPose-style ``<name>_keypoints.json`` (the first person's
``pose_keypoints_2d``; its points with confidence > 0.1 make the box), as SPIN's demo takes.
The box is cropped as training cropped a person's keypoints (centred, its longest side 150 / 224
of the input). A photo without a box is used whole (padded to a square, bottom/right): fine
for an LSP-style image, one person roughly centred and filling most of it.
Callable from a notebook as :func:`predict_images`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from hybridlib.data.dataset import read_image
from hybridlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD, AugmentationConfig, crop_sample
from hybridlib.evaluation.evaluate import load_trained
from hybridlib.geometry import normalized_to_pixels
from hybridlib.models.forward import Networks, predict, resolve_device
from hybridlib.precision import INFERENCE_PRECISIONS
from hybridlib.rendering import draw_keypoints, overlay_mesh, write_image
from hybridlib.skeleton import join_theta, split_theta

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ImagePrediction:
    """theta (85,); keypoints_px (14,2) in the original photo's pixels; camera_in_image (3,)
    projecting onto the photo padded to a square of side max(H, W); box (4,) x0, y0, x1, y1 or
    None (the whole photo); overlay (H,W,3) uint8."""

    image_path: Path
    theta: np.ndarray
    keypoints_px: np.ndarray
    joints_3d: np.ndarray
    camera_in_image: np.ndarray
    box: np.ndarray | None
    overlay: np.ndarray


OPENPOSE_MIN_CONFIDENCE = 0.1


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


def box_input(image: np.ndarray, box: np.ndarray, input_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Crop a person box (x0, y0, x1, y1 pixels) of an RGB image as training crops a person's
    keypoints (:func:`hybridlib.data.transforms.crop_affine`, no jitter): (3,S,S) ImageNet-normalised
    and the (2,3) affine from photo to crop pixels."""
    corners = np.asarray(box, np.float64).reshape(2, 2)
    crop = crop_sample(image, corners, np.ones(2, bool), None, AugmentationConfig(image_size=input_size, augment=False))
    return torch.from_numpy(crop.image.transpose(2, 0, 1).copy()), crop.affine


def camera_in_image(camera: np.ndarray, affine: np.ndarray, crop_size: int, side: int) -> np.ndarray:
    """The weak-perspective camera (s, tx, ty) of a crop, re-expressed for the photo padded to a
    square of ``side`` px, given the crop's (2,3) affine (photo → crop pixels, uniform scale)."""
    scale, translation = float(camera[0]), np.asarray(camera[1:], np.float64)
    zoom, offset = float(affine[0, 0]), affine[:, 2]
    # photo px = (crop px - offset) / zoom, crop px = (s (X + t) + 1) crop_size / 2
    scale_image = scale * crop_size / (zoom * side)
    constant = (scale * translation * crop_size / 2 + crop_size / 2 - offset) / zoom  # photo px at X = 0
    translation_image = (constant - side / 2) / (scale_image * side / 2)
    return np.concatenate([[scale_image], translation_image]).astype(np.float32)


def read_boxes(path: Path) -> dict[str, np.ndarray]:
    """``{"photo.jpg": [x0, y0, x1, y1]}`` from a JSON file; malformed entries are refused naming them."""
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the boxes file {path} ({error}): it must be JSON like "
                         '{"photo.jpg": [x0, y0, x1, y1]}') from error  # fmt: skip
    if not isinstance(entries, dict):
        raise ValueError(f'{path}: expected an object {{"photo.jpg": [x0, y0, x1, y1]}}, got {type(entries).__name__}')
    boxes = {}
    for name, box in entries.items():
        values = np.asarray(box, dtype=np.float64) if isinstance(box, list) else np.zeros(0)
        if values.shape != (4,) or not np.isfinite(values).all() or values[2] <= values[0] or values[3] <= values[1]:
            raise ValueError(f"{path}: the box of {name!r} is {box!r}; a box is [x0, y0, x1, y1] with x1 > x0, y1 > y0")
        boxes[name] = values
    return boxes


def read_openpose_boxes(folder: Path, image_paths: list[Path]) -> dict[str, np.ndarray]:
    """Boxes from OpenPose-style ``<stem>_keypoints.json`` files: the first person's keypoints with
    confidence above :data:`OPENPOSE_MIN_CONFIDENCE`. Photos without a file or a person get none."""
    boxes = {}
    for image_path in image_paths:
        path = Path(folder) / f"{image_path.stem}_keypoints.json"
        if not path.is_file():
            continue
        try:
            people = json.loads(path.read_text())["people"]
            points = np.asarray(people[0]["pose_keypoints_2d"], np.float64).reshape(-1, 3) if people else None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise ValueError(f"{path} is not OpenPose keypoint JSON ({error}): expected "
                             '{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}') from error  # fmt: skip
        if points is None:
            continue
        confident = points[points[:, 2] > OPENPOSE_MIN_CONFIDENCE, :2]
        if len(confident) >= 2:
            boxes[image_path.name] = np.concatenate([confident.min(axis=0), confident.max(axis=0)])
    return boxes


@torch.no_grad()
def predict_images(
    networks: Networks,
    image_paths: list[Path],
    input_size: int,
    device: str = "auto",
    progress: bool = True,
    boxes: dict[str, np.ndarray] | None = None,
) -> list[ImagePrediction]:
    """Predict every image, cropped to its box in ``boxes`` (by file name; see the module
    docstring) or whole; overlays are drawn on the original photo, at its resolution."""
    device_ = resolve_device(device)
    networks.model.to(device_).eval()
    networks.body_model.to(device_)
    boxes = boxes or {}
    results = []
    for path in tqdm(image_paths, desc="predicting", unit="img", disable=not progress):
        image = read_image(path)
        height, width = image.shape[:2]
        side = max(height, width)
        box = boxes.get(path.name)
        if box is None:  # the whole photo: the crop is a uniform scaling of the padded square
            model_input, _ = square_input(image, input_size)
            affine = np.array([[input_size / side, 0.0, 0.0], [0.0, input_size / side, 0.0]])
        else:
            model_input, affine = box_input(image, box, input_size)
        pred = predict(networks, model_input[None].to(device_))
        camera = camera_in_image(pred.parts.camera[0].cpu().numpy(), affine, input_size, side)
        keypoints_crop = normalized_to_pixels(pred.keypoints_2d[0], input_size).cpu().numpy()
        keypoints_px = (keypoints_crop - affine[:, 2]) / affine[0, 0]
        square = np.zeros((side, side, 3), np.uint8)
        square[:height, :width] = image
        overlay = overlay_mesh(square, pred.output.vertices[0], networks.body_model.faces, torch.from_numpy(camera))
        overlay = draw_keypoints(overlay, keypoints_px, radius=max(2, side // 100))[:height, :width]
        results.append(
            ImagePrediction(
                path,
                join_theta(pred.parts)[0].cpu().numpy(),
                keypoints_px.astype(np.float32),
                pred.output.keypoints_lsp[0].cpu().numpy(),
                camera,
                box,
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
            camera_in_image=prediction.camera_in_image,
            box=np.full(4, np.nan) if prediction.box is None else prediction.box,  # NaN: the whole photo
        )
        write_image(out_dir / f"{prediction.image_path.stem}_overlay.png", prediction.overlay)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True, help="folder of .jpg/.png images")
    parser.add_argument("--out", type=Path, required=True)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--boxes", type=Path, help='JSON {"photo.jpg": [x0, y0, x1, y1]} (pixels)')
    where.add_argument("--openpose", type=Path, help="folder of OpenPose <name>_keypoints.json files")
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
    try:
        boxes = (
            read_boxes(args.boxes)
            if args.boxes
            else read_openpose_boxes(args.openpose, image_paths)
            if (args.openpose)
            else {}
        )
    except ValueError as error:
        parser.error(str(error))
    unknown = sorted(set(boxes) - {path.name for path in image_paths})
    if unknown:
        parser.error(f"boxes for photos not in {args.images}: {unknown[:5]}")
    networks, config, _ = load_trained(args.checkpoint, args.precision)
    write_predictions(predict_images(networks, image_paths, config.image_size, args.device, boxes=boxes), args.out)
    whole = [path.name for path in image_paths if path.name not in boxes]
    print(
        f"wrote Θ and overlays of {len(image_paths)} images to {args.out.resolve()}"
        + (f" ({len(whole)} without a box, used whole: {whole[:3]})" if (args.boxes or args.openpose) and whole else "")
    )
    return args.out


if __name__ == "__main__":
    main()
