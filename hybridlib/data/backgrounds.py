"""Cluttered random backgrounds for generated images: a two-colour gradient, low-frequency
colour blotches, random filled shapes and lines (some striped), and sensor grain.

Everything is drawn with OpenCV from one ``numpy.random.Generator``, so a background is a
deterministic function of its seed; about a millisecond or two at LSP sizes.
"""

from __future__ import annotations

import cv2
import numpy as np


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(value) for value in rng.integers(0, 256, size=3))


def _gradient(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(H,W,3) float32 linear gradient between two random colours at a random angle."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    xs, ys = np.meshgrid(
        np.linspace(-1.0, 1.0, width, dtype=np.float32), np.linspace(-1.0, 1.0, height, dtype=np.float32)
    )
    position = (np.cos(angle) * xs + np.sin(angle) * ys) * 0.5 + 0.5
    start, end = (np.asarray(_random_colour(rng), np.float32) for _ in range(2))
    return start + position[..., None] * (end - start)


def _blotches(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(H,W,3) float32 low-frequency colour variation, zero mean."""
    cells = rng.normal(scale=35.0, size=(int(rng.integers(3, 8)), int(rng.integers(3, 8)), 3)).astype(np.float32)
    return cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)


def _draw_shape(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width = canvas.shape[:2]
    colour = _random_colour(rng)
    centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    size = int(rng.integers(8, max(9, max(width, height) // 2)))
    kind = rng.integers(5)
    if kind == 0:
        corner = (centre[0] + int(rng.integers(-size, size)), centre[1] + int(rng.integers(-size, size)))
        cv2.rectangle(canvas, centre, corner, colour, -1)
    elif kind == 1:
        cv2.circle(canvas, centre, size // 2, colour, -1, cv2.LINE_AA)
    elif kind == 2:
        axes = (size // 2, int(rng.integers(4, size // 2 + 5)))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0.0, 360.0, colour, -1, cv2.LINE_AA)
    elif kind == 3:
        points = (np.asarray(centre) + rng.integers(-size, size, size=(int(rng.integers(3, 7)), 2))).astype(np.int32)
        cv2.fillPoly(canvas, [points], colour, cv2.LINE_AA)
    else:
        end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(canvas, centre, end, colour, int(rng.integers(1, 8)), cv2.LINE_AA)


def _stripes(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A striped rectangle (a fence, a banner, a court marking)."""
    height, width = canvas.shape[:2]
    x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
    x1, y1 = x0 + int(rng.integers(20, width)), y0 + int(rng.integers(10, height // 2 + 11))
    period = int(rng.integers(4, 16))
    colour_a, colour_b = _random_colour(rng), _random_colour(rng)
    vertical = bool(rng.integers(2))
    for offset in range(0, (x1 - x0) if vertical else (y1 - y0), period):
        colour = colour_a if (offset // period) % 2 else colour_b
        if vertical:
            cv2.rectangle(canvas, (x0 + offset, y0), (x0 + offset + period // 2, y1), colour, -1)
        else:
            cv2.rectangle(canvas, (x0, y0 + offset), (x1, y0 + offset + period // 2), colour, -1)


def cluttered_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A random cluttered background, (height, width, 3) uint8 RGB, desaturated by a random
    amount (sports scenes are rarely all primary colours)."""
    base = _gradient(width, height, rng) + _blotches(width, height, rng)
    canvas = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 25))):
        _draw_shape(canvas, rng)
    for _ in range(int(rng.integers(0, 3))):
        _stripes(canvas, rng)
    if rng.uniform() < 0.5:  # out-of-focus background
        canvas = cv2.GaussianBlur(canvas, (0, 0), float(rng.uniform(0.8, 2.5)))
    grey = canvas.mean(axis=2, keepdims=True)
    saturation = rng.uniform(0.25, 0.9)
    canvas = grey + saturation * (canvas.astype(np.float32) - grey)
    grain = rng.normal(scale=rng.uniform(2.0, 7.0), size=canvas.shape).astype(np.float32)
    return np.clip(canvas + grain, 0, 255).astype(np.uint8)
