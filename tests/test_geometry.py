import math

import torch

from hybridlib.geometry import (
    axis_angle_to_rotation_matrix,
    normalized_to_pixels,
    pixels_to_normalized,
    rotation_matrix_to_axis_angle,
    weak_perspective_projection,
    weak_perspective_unprojection,
)


def test_weak_perspective_matches_hmr_formula():
    points = torch.tensor([[[0.1, -0.2, 5.0], [0.0, 0.0, -1.0]]])
    camera = torch.tensor([[2.0, 0.5, -0.25]])
    projected = weak_perspective_projection(points, camera)
    expected = torch.tensor([[[2.0 * (0.1 + 0.5), 2.0 * (-0.2 - 0.25)], [1.0, -0.5]]])
    assert torch.allclose(projected, expected)


def test_projection_unprojection_round_trip():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(3, 50, 3, generator=generator)
    camera = torch.cat([torch.rand(3, 1, generator=generator) + 0.5, torch.randn(3, 2, generator=generator)], dim=1)
    projected = weak_perspective_projection(points, camera)
    recovered = weak_perspective_unprojection(projected, points[..., 2], camera)
    assert torch.allclose(recovered, points, atol=1e-5)


def test_pixel_normalised_round_trip_and_borders():
    normalised = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])
    pixels = normalized_to_pixels(normalised, 224)
    assert torch.allclose(pixels, torch.tensor([[0.0, 0.0], [112.0, 112.0], [224.0, 224.0]]))
    assert torch.allclose(pixels_to_normalized(pixels, 224), normalised)


def test_axis_angle_rotation_matrix_round_trip():
    rotation = axis_angle_to_rotation_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    # 90° about z takes x to y
    assert torch.allclose(rotation @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    axis_angle = torch.randn(10, 3) * 0.8
    assert torch.allclose(
        rotation_matrix_to_axis_angle(axis_angle_to_rotation_matrix(axis_angle)), axis_angle, atol=1e-5
    )
