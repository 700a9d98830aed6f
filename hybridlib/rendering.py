"""Headless mesh rendering on OpenCV: painter's algorithm with Lambert shading, silhouettes
and overlays.

Everything here works on NumPy arrays on the CPU (rendering is for pictures, data
generation and metrics, not for gradients). Images are RGB ``uint8`` (H,W,3); masks are
``bool`` (H,W). Vertices are posed body-model vertices (V,3) in metres, seen through a
weak-perspective camera ``(s, tx, ty)`` as in :mod:`hybridlib.geometry` (orthographic along
+z: the camera looks along +z, so a face is visible when its outward normal has z < 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from hybridlib.geometry import normalized_to_pixels

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

# fillConvexPoly works on fixed-point coordinates with this many fractional bits.
_SUBPIXEL_BITS = 4
_SUBPIXEL_SCALE = float(1 << _SUBPIXEL_BITS)

MESH_COLOUR = (176, 196, 222)  # light steel blue, RGB
# Triangles are painted at this many times the resolution, then area-averaged.
SUPERSAMPLING = 4


@dataclass(frozen=True)
class Lighting:
    """Directional light for Lambert shading. ``direction`` points from the surface towards
    the light, in camera axes (x right, y down, z away from the viewer)."""

    direction: tuple[float, float, float] = (-0.3, -0.5, -1.0)
    ambient: float = 0.35
    diffuse: float = 0.65


def to_array(values: ArrayLike | torch.Tensor) -> np.ndarray:
    """Accept a NumPy array or a (CPU/CUDA, possibly grad-tracking) torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def project_to_pixels(vertices: np.ndarray, camera: np.ndarray, image_size: int) -> np.ndarray:
    """Weak-perspective projection of vertices (V,3) with camera (3,) = (s, tx, ty).

    Returns (V,3): pixel x, pixel y (continuous, [0, image_size] across the image) and the
    model-space depth z (larger is farther), float64.
    """
    vertices = to_array(vertices).astype(np.float64)
    scale, tx, ty = to_array(camera).astype(np.float64)
    pixels_xy = normalized_to_pixels(scale * (vertices[:, :2] + (tx, ty)), image_size)
    return np.concatenate([pixels_xy, vertices[:, 2:3]], axis=1)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit outward normals (F,3) of counter-clockwise triangles."""
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(lengths, 1e-12)


def _fixed_point_triangles(pixels_xy: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle corners (F,3,2) in OpenCV's fixed-point pixel-centre convention."""
    # OpenCV puts pixel centres at integer coordinates; ours are at i + 0.5.
    corners = pixels_xy[faces] - 0.5
    return np.round(corners * _SUBPIXEL_SCALE).astype(np.int32)


def paint_triangles(canvas: np.ndarray, pixels_xy: np.ndarray, faces: np.ndarray, colours: list) -> None:
    """Fill triangles in the given order onto ``canvas`` in place (later ones on top).

    pixels_xy (V,2) continuous pixel coordinates, faces (F,3), colours: F colour tuples (or
    scalars for a one-channel canvas). OpenCV fills inclusively (about half a pixel beyond
    each edge): callers supersample to make that bias small.
    """
    triangles = _fixed_point_triangles(pixels_xy, faces)
    fill = cv2.fillConvexPoly
    for triangle, colour in zip(triangles, colours, strict=True):
        fill(canvas, triangle, colour, cv2.LINE_8, _SUBPIXEL_BITS)


def _downsample(canvas: np.ndarray, image_size: int) -> np.ndarray:
    """Area-average a supersampled canvas to (image_size, image_size[, C]) float32 in [0, 1]."""
    small = cv2.resize(canvas, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


@dataclass(frozen=True)
class FaceRaster:
    """Which face is in front at every supersampled pixel.

    face_ids (S·k, S·k) int32, -1 where no face covers the pixel; supersampling k; faces
    are indices into the mesh's face array; normals (F,3) the unit face normals.
    """

    face_ids: np.ndarray
    supersampling: int
    normals: np.ndarray

    def face_at(self, points_px: np.ndarray) -> np.ndarray:
        """Front face (K,) under points (K,2) in output-pixel coordinates; -1 outside or uncovered."""
        fine = np.floor(np.asarray(points_px, np.float64) * self.supersampling).astype(np.int64)
        size = self.face_ids.shape[0]
        inside = ((fine >= 0) & (fine < size)).all(axis=1)
        result = np.full(len(fine), -1, np.int64)
        result[inside] = self.face_ids[fine[inside, 1], fine[inside, 0]]
        return result


def rasterise_faces(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: np.ndarray,
    image_size: int = 224,
    supersampling: int = SUPERSAMPLING,
) -> FaceRaster:
    """Painter's algorithm on face indices: front-facing faces (V,3)/(F,3) under ``camera``,
    painted far to near at ``supersampling`` × ``image_size``."""
    vertices = to_array(vertices).astype(np.float64)
    faces = to_array(faces).astype(np.int64)
    fine_size = image_size * supersampling
    projected = project_to_pixels(vertices, camera, fine_size)
    normals = face_normals(vertices, faces)
    front_facing = np.flatnonzero(normals[:, 2] < 0.0)
    face_depth = projected[faces[front_facing], 2].mean(axis=1)
    far_to_near = front_facing[np.argsort(-face_depth, kind="stable")]
    canvas = np.full((fine_size, fine_size), -1, np.int32)
    paint_triangles(canvas, projected[:, :2], faces[far_to_near], far_to_near.tolist())
    return FaceRaster(face_ids=canvas, supersampling=supersampling, normals=normals)


def shade_faces(
    normals: np.ndarray,
    colour: tuple[int, int, int] = MESH_COLOUR,
    lighting: Lighting = Lighting(),
    face_colours: np.ndarray | None = None,
) -> np.ndarray:
    """Lambert-shaded colour (F,3) float RGB 0–255 of faces with unit normals (F,3): one
    ``colour`` or ``face_colours`` (F,3)."""
    light = np.asarray(lighting.direction, np.float64)
    light /= np.linalg.norm(light)
    intensity = lighting.ambient + lighting.diffuse * np.clip(normals @ light, 0.0, 1.0)
    albedo = np.asarray(colour if face_colours is None else face_colours, np.float64)
    return np.clip(intensity[:, None] * albedo, 0, 255)


def render_mesh_premultiplied(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: np.ndarray,
    image_size: int = 224,
    colour: tuple[int, int, int] = MESH_COLOUR,
    lighting: Lighting = Lighting(),
    supersampling: int = SUPERSAMPLING,
    face_colours: np.ndarray | None = None,
    raster: FaceRaster | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shaded mesh as premultiplied colour (S,S,3) and coverage (S,S), float32 in [0, 1].

    Depth-sorted (painter's algorithm) front-facing triangles with Lambert shading, painted at
    ``supersampling`` × the resolution and area-averaged (anti-aliased edges). One ``colour``
    for the whole mesh, or ``face_colours`` (F,3) RGB 0–255 per face. Pass the ``raster`` of
    :func:`rasterise_faces` when you already have it.
    """
    if raster is None:
        raster = rasterise_faces(vertices, faces, camera, image_size, supersampling)
    face_rgb = shade_faces(raster.normals, colour, lighting, face_colours)
    # one extra row for the background: face id -1 picks it
    face_rgba = np.zeros((len(face_rgb) + 1, 4), np.uint8)
    face_rgba[:-1, :3] = np.round(face_rgb)
    face_rgba[:-1, 3] = 255
    rgba = _downsample(face_rgba[raster.face_ids], image_size)
    return rgba[..., :3], rgba[..., 3]


def _composite(background: np.ndarray, colour: np.ndarray, coverage: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """background (S,S,3) uint8 under premultiplied colour/coverage, with extra opacity alpha."""
    result = background.astype(np.float32) * (1.0 - alpha * coverage[..., None]) + 255.0 * alpha * colour
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def render_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: np.ndarray,
    image_size: int = 224,
    background: np.ndarray | None = None,
    colour: tuple[int, int, int] = MESH_COLOUR,
    lighting: Lighting = Lighting(),
) -> np.ndarray:
    """Render a shaded mesh (V,3) metres, faces (F,3), camera (3,) over ``background``
    ((S,S,3) uint8 RGB, default black). Returns (image_size, image_size, 3) uint8 RGB."""
    if background is None:
        background = np.zeros((image_size, image_size, 3), np.uint8)
    elif background.shape != (image_size, image_size, 3):
        raise ValueError(f"background must be ({image_size}, {image_size}, 3) uint8 RGB, got shape {background.shape}")
    premultiplied, coverage = render_mesh_premultiplied(vertices, faces, camera, image_size, colour, lighting)
    return _composite(background, premultiplied, coverage)


def render_silhouette(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: np.ndarray,
    image_size: int = 224,
    supersampling: int = SUPERSAMPLING,
) -> np.ndarray:
    """Silhouette mask (image_size, image_size) bool of a closed mesh (V,3), faces (F,3): the
    pixels at least half covered by its front-facing faces. A closed surface's outline is that
    of its front faces (the data generator draws ground-truth silhouettes so); painting them
    alone takes half the triangles of painting every face."""
    vertices = to_array(vertices).astype(np.float64)
    faces = to_array(faces).astype(np.int64)
    front_facing = faces[face_normals(vertices, faces)[:, 2] < 0.0]
    fine_size = image_size * supersampling
    projected = project_to_pixels(vertices, camera, fine_size)
    canvas = np.zeros((fine_size, fine_size), np.uint8)
    paint_triangles(canvas, projected[:, :2], front_facing, [255] * len(front_facing))
    return _downsample(canvas, image_size) >= 0.5


def overlay_mesh(
    image: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: np.ndarray,
    alpha: float = 0.7,
    colour: tuple[int, int, int] = MESH_COLOUR,
) -> np.ndarray:
    """Blend a shaded mesh over an RGB image (S,S,3) uint8; returns a new image."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
        raise ValueError(f"overlay_mesh expects a square RGB image (S,S,3), got shape {image.shape}")
    premultiplied, coverage = render_mesh_premultiplied(vertices, faces, camera, image.shape[0], colour)
    return _composite(image, premultiplied, coverage, alpha)


def draw_keypoints(
    image: np.ndarray, keypoints_px: np.ndarray, colour: tuple[int, int, int] = (255, 64, 64), radius: int = 3
) -> np.ndarray:
    """Draw keypoints (K,2) pixel coordinates as filled dots on a copy of an RGB image."""
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    for x, y in to_array(keypoints_px):
        cv2.circle(canvas, (int(round(x - 0.5)), int(round(y - 0.5))), radius, colour, -1, cv2.LINE_AA)
    return canvas


def tile_images(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """Tile same-sized RGB images (H,W,3) row by row, ``columns`` per row; the last row is
    padded with black tiles. Returns (rows·H, columns·W, 3)."""
    if not tiles:
        raise ValueError("no images to tile")
    padding = [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    padded = list(tiles) + padding
    return np.concatenate(
        [np.concatenate(padded[start : start + columns], axis=1) for start in range(0, len(padded), columns)], axis=0
    )


def write_image(path: str | Path, image_rgb: np.ndarray) -> Path:
    """Write an RGB (H,W,3) or grey (H,W) uint8 image; creates parent folders. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = image_rgb if image_rgb.ndim == 2 else cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(
            f"could not write image {path}: check that the folder is writable and the extension is .png or .jpg"
        )
    return path
