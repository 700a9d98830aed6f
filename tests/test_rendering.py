import math

import cv2
import numpy as np
import pytest
import torch

from hybridlib.rendering import (
    SUPERSAMPLING,
    face_normals,
    overlay_mesh,
    paint_triangles,
    project_to_pixels,
    rasterise_faces,
    render_mesh,
    render_mesh_premultiplied,
    render_silhouette,
    tile_images,
    write_image,
)


def uv_sphere(radius: float, rings: int = 48, segments: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Closed UV sphere with outward, counter-clockwise faces."""
    vertices = [(0.0, radius, 0.0)]
    for ring in range(1, rings):
        polar = math.pi * ring / rings
        for segment in range(segments):
            azimuth = 2 * math.pi * segment / segments
            vertices.append(
                (
                    radius * math.sin(polar) * math.cos(azimuth),
                    radius * math.cos(polar),
                    radius * math.sin(polar) * math.sin(azimuth),
                )
            )
    vertices.append((0.0, -radius, 0.0))
    faces = []
    index = lambda ring, segment: 1 + (ring - 1) * segments + segment % segments  # noqa: E731
    for segment in range(segments):
        faces.append((0, index(1, segment + 1), index(1, segment)))
        faces.append((len(vertices) - 1, index(rings - 1, segment), index(rings - 1, segment + 1)))
        for ring in range(1, rings - 1):
            a, b = index(ring, segment), index(ring, segment + 1)
            c, d = index(ring + 1, segment), index(ring + 1, segment + 1)
            faces += [(a, b, d), (a, d, c)]
    vertices, faces = np.array(vertices), np.array(faces)
    # make the winding outward (the test must not depend on the construction above)
    centroids = vertices[faces].mean(axis=1)
    inward = (face_normals(vertices, faces) * centroids).sum(axis=1) < 0
    faces[inward] = faces[inward][:, ::-1]
    return vertices, faces


def test_silhouette_area_matches_projected_area_of_a_sphere():
    vertices, faces = uv_sphere(radius=0.5)
    camera = np.array([1.4, 0.1, -0.05])  # radius 0.7 in normalised units = 78.4 px
    mask = render_silhouette(vertices, faces, camera, image_size=224)
    expected_area = math.pi * (0.5 * 1.4 * 112) ** 2
    assert abs(mask.sum() / expected_area - 1.0) < 0.01
    # and it sits where the camera puts it
    rows, cols = np.nonzero(mask)
    assert abs(cols.mean() + 0.5 - (0.1 * 1.4 + 1) * 112) < 0.5
    assert abs(rows.mean() + 0.5 - (-0.05 * 1.4 + 1) * 112) < 0.5


@pytest.mark.parametrize("camera", [(1.4, 0.1, -0.05), (0.6, -0.3, 0.4)])
def test_the_silhouette_of_a_closed_mesh_is_that_of_every_face(camera):
    vertices, faces = uv_sphere(radius=0.5)
    camera = np.array(camera)
    mask = render_silhouette(vertices, faces, camera, image_size=128)
    fine = 128 * SUPERSAMPLING  # every face painted, back faces included
    canvas = np.zeros((fine, fine), np.uint8)
    paint_triangles(canvas, project_to_pixels(vertices, camera, fine)[:, :2], faces, [255] * len(faces))
    every_face = cv2.resize(canvas, (128, 128), interpolation=cv2.INTER_AREA) >= 128
    assert mask.sum() > 500 and (mask != every_face).sum() <= 0.002 * mask.sum()


def test_render_shades_towards_the_light_and_paints_only_the_silhouette():
    vertices, faces = uv_sphere(radius=0.5)
    camera = np.array([1.4, 0.0, 0.0])
    image = render_mesh(vertices, faces, camera, image_size=224)
    mask = render_silhouette(vertices, faces, camera, image_size=224)
    _, coverage = render_mesh_premultiplied(vertices, faces, camera, image_size=224)
    assert ((coverage >= 0.5) != mask).sum() == 0  # both paint the front faces
    # paint never lands farther than the anti-aliased border (one pixel) outside the mask
    border = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    painted = image.any(axis=2)
    assert (painted & ~border).sum() == 0 and (mask & ~painted).sum() == 0
    # default light comes from the upper left (towards the viewer): that side is brighter
    assert image[70, 70].sum() > image[154, 154].sum()


def test_painter_puts_the_nearer_triangle_on_top_whatever_the_order():
    near = np.array([[-0.5, -0.5, -1.0], [0.5, -0.5, -1.0], [0.0, 0.5, -1.0]])
    far = near + [0.1, 0.0, 2.0]
    vertices = np.concatenate([near, far])
    faces_near_first = np.array([[0, 2, 1], [3, 5, 4]])  # both facing the camera (normal z < 0)
    assert (face_normals(vertices, faces_near_first)[:, 2] < 0).all()
    for faces in (faces_near_first, faces_near_first[::-1]):
        image_near = render_mesh(vertices, faces, np.array([1.0, 0.0, 0.0]), 64, colour=(255, 0, 0))
        centre = image_near[32, 32]
        # both are red; the visible one must be the near triangle: check by removing it
        only_far = render_mesh(vertices, faces[faces[:, 0] == 3], np.array([1.0, 0.0, 0.0]), 64, colour=(0, 255, 0))
        assert only_far[32, 32, 1] > 0 and centre[0] > 0 and centre[1] == 0


def test_face_raster_names_the_front_face_and_face_colours_paint_each_face():
    near = np.array([[-0.5, -0.5, -1.0], [0.5, -0.5, -1.0], [0.0, 0.5, -1.0]])
    vertices = np.concatenate([near, near + [0.1, 0.0, 2.0]])
    faces = np.array([[3, 5, 4], [0, 2, 1]])  # far first in the array
    camera = np.array([1.0, 0.0, 0.0])
    raster = rasterise_faces(vertices, faces, camera, 64, supersampling=2)
    assert raster.face_ids.shape == (128, 128)
    assert raster.face_at(np.array([[32.0, 32.0], [1.0, 1.0], [-5.0, 70.0]])).tolist() == [1, -1, -1]
    colour, coverage = render_mesh_premultiplied(
        vertices, faces, camera, 64, face_colours=np.array([[0, 255, 0], [255, 0, 0]]), raster=raster
    )
    assert colour[32, 32, 0] > 0 and colour[32, 32, 1] == 0 and coverage[32, 32] == 1.0 and coverage[1, 1] == 0.0


def test_back_faces_are_culled_and_torch_inputs_work():
    triangle = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.0, 0.5, 0.0]], requires_grad=True)
    facing_away = torch.tensor([[0, 1, 2]])
    assert face_normals(triangle.detach().numpy(), facing_away.numpy())[0, 2] > 0
    assert render_mesh(triangle, facing_away, torch.tensor([1.0, 0.0, 0.0]), 32).sum() == 0
    assert render_silhouette(triangle, facing_away, torch.tensor([1.0, 0.0, 0.0]), 32).sum() == 0
    facing_the_camera = facing_away[:, [0, 2, 1]]
    assert render_silhouette(triangle, facing_the_camera, torch.tensor([1.0, 0.0, 0.0]), 32).sum() > 0


def test_project_to_pixels_uses_pixel_convention():
    projected = project_to_pixels(np.array([[0.0, 0.0, 3.0], [1.0, -1.0, 0.0]]), np.array([1.0, 0.0, 0.0]), 100)
    assert np.allclose(projected, [[50.0, 50.0, 3.0], [100.0, 0.0, 0.0]])


def test_overlay_blends_only_under_the_mesh(tmp_path):
    vertices, faces = uv_sphere(radius=0.3)
    image = np.full((96, 96, 3), 40, np.uint8)
    blended = overlay_mesh(image, vertices, faces, np.array([1.0, 0.0, 0.0]))
    assert (blended[0, 0] == 40).all() and blended[48, 48].sum() > 3 * 40
    path = write_image(tmp_path / "sub" / "overlay.png", blended)
    assert path.is_file() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="square"):
        overlay_mesh(np.zeros((10, 20, 3), np.uint8), vertices, faces, np.array([1.0, 0.0, 0.0]))


def test_tile_images_lays_out_rows_and_pads_the_last_one_with_black():
    tiles = [np.full((4, 6, 3), value, np.uint8) for value in (10, 20, 30, 40, 50)]
    sheet = tile_images(tiles, columns=2)
    assert sheet.shape == (12, 12, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 6, 0] == 20 and sheet[4, 0, 0] == 30 and sheet[8, 0, 0] == 50
    assert (sheet[8:, 6:] == 0).all()  # the padding tile
    with pytest.raises(ValueError, match="no images"):
        tile_images([], columns=2)
