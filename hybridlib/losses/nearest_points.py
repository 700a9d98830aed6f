"""The nearest-point searches of L_mr's fast path, compiled with numba (no GIL: one sample per
thread).

:func:`nearest_sites` finds, for query points, the exact nearest of a set of 2D sites (e.g. the
nearest projected vertex of every S_GT pixel centre) with a uniform grid of cells:

1. the sites are sorted into cells (counting sort);
2. an exact Euclidean distance transform of the occupied cells (Felzenszwalb & Huttenlocher's
   two passes) gives, for every cell, the squared distance (in cells) to the nearest occupied
   cell and which cell that is;
3. each query takes the best site of that nearest occupied cell, then visits the cells that can
   still hold a closer site: cell centres within √best / h + margin of the query's cell centre,
   skipping the disc the distance transform proves empty. The search is exact: the tests
   compare it with scipy's k-d tree on random sets (ties, far points, coarse cells).

:func:`mesh_loss_sample` is one sample's L_mr (both terms of Eq. 1) and its gradient with
respect to the projected vertices, the pairs of nearest points held fixed (as autograd would).
Its cost: the L_mr rows of ``make bench`` (docs/performance.md). The first call in a fresh
checkout compiles the kernels (a few seconds); numba caches them beside this file.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_FAR = np.int64(1) << np.int64(40)  # "no occupied cell in this column / grid"
HALF_DIAGONAL = 0.7072  # a point of a unit cell is at most √2/2 from its centre (rounded up)


@numba.njit(nogil=True, cache=True)
def _cell_distance_transform(occupied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every cell of ``occupied`` (R,C) bool: the squared Euclidean distance, in cells, from
    its centre to the nearest occupied cell's centre (int64, _FAR if none), and that cell's flat
    index (−1 if none)."""
    rows, columns = occupied.shape
    column_distance = np.empty((rows, columns), np.int64)
    column_row = np.empty((rows, columns), np.int64)
    for x in range(columns):  # pass 1: the nearest occupied cell in the same column
        above = -1
        for y in range(rows):
            if occupied[y, x]:
                above = y
            column_row[y, x] = above
        below = -1
        for y in range(rows - 1, -1, -1):
            if occupied[y, x]:
                below = y
            above = column_row[y, x]
            if above < 0 or (below >= 0 and below - y < y - above):
                column_row[y, x] = below
            column_distance[y, x] = _FAR if column_row[y, x] < 0 else (column_row[y, x] - y) ** 2
    squared = np.empty((rows, columns), np.int64)
    nearest = np.empty((rows, columns), np.int64)
    parabola = np.empty(columns, np.int64)  # pass 2: lower envelope of (x − x')² + f(x') along each row
    boundary = np.empty(columns + 1, np.float64)
    for y in range(rows):
        count = 0
        for x in range(columns):
            height = column_distance[y, x]
            if height >= _FAR:
                continue
            crossing = -np.inf
            while count > 0:
                previous = parabola[count - 1]
                crossing = ((height + x * x) - (column_distance[y, previous] + previous * previous)) / (
                    2.0 * (x - previous)
                )
                if crossing <= boundary[count - 1]:
                    count -= 1
                    crossing = -np.inf
                else:
                    break
            boundary[count] = crossing
            parabola[count] = x
            count += 1
        if count == 0:
            squared[y, :] = _FAR
            nearest[y, :] = -1
            continue
        boundary[count] = np.inf
        segment = 0
        for x in range(columns):
            while boundary[segment + 1] < x:
                segment += 1
            source = parabola[segment]
            squared[y, x] = (x - source) ** 2 + column_distance[y, source]
            nearest[y, x] = column_row[y, source] * columns + source
    return squared, nearest


@numba.njit(nogil=True, cache=True, inline="always")
def _closest_in_cell(
    cell: int,
    starts: np.ndarray,
    sorted_sites: np.ndarray,
    sites: np.ndarray,
    query_x: float,
    query_y: float,
    best: float,
    best_site: int,
) -> tuple[float, int]:
    """(squared distance, index) of the closest of the best so far and the sites in ``cell``."""
    for slot in range(starts[cell], starts[cell + 1]):
        site = sorted_sites[slot]
        distance = (np.float64(sites[site, 0]) - query_x) ** 2 + (
            np.float64(sites[site, 1]) - query_y
        ) ** 2  # float64: no overflow for any finite float32
        if distance < best:
            best, best_site = distance, site
    return best, best_site


@numba.njit(nogil=True, cache=True)
def nearest_sites(
    sites: np.ndarray, queries: np.ndarray, max_cells_per_side: int, query_at_pixel_centres: bool
) -> np.ndarray:
    """(Q,) int64 index of the nearest of ``sites`` (N,2), N ≥ 1, for every query point (Q,2),
    exact (ties: any of the nearest); coordinates finite, in pixels, distances compared in
    float64. The grid has unit cells
    unless the points spread over more than ``max_cells_per_side`` pixels (then cells of 2, 4, …
    pixels). ``query_at_pixel_centres``: the queries are pixel centres (integer + 0.5), which
    lets unit cells search a smaller neighbourhood."""
    if sites.shape[0] == 0:
        raise ValueError("nearest_sites needs at least one site")
    x_min, y_min, x_max, y_max = np.inf, np.inf, -np.inf, -np.inf
    for points in (sites, queries):
        for index in range(points.shape[0]):
            x_min, x_max = min(x_min, points[index, 0]), max(x_max, points[index, 0])
            y_min, y_max = min(y_min, points[index, 1]), max(y_max, points[index, 1])
    cell_size = 1.0
    while max(x_max - x_min, y_max - y_min) / cell_size > max_cells_per_side:
        cell_size *= 2.0
    origin_x = math.floor(x_min / cell_size) * cell_size
    origin_y = math.floor(y_min / cell_size) * cell_size
    columns = int(math.floor((x_max - origin_x) / cell_size)) + 1
    rows = int(math.floor((y_max - origin_y) / cell_size)) + 1
    margin = HALF_DIAGONAL if (query_at_pixel_centres and cell_size == 1.0) else 2.0 * HALF_DIAGONAL
    num_sites = sites.shape[0]
    cells = rows * columns
    starts = np.zeros(cells + 1, np.int64)
    cell_of_site = np.empty(num_sites, np.int64)
    for site in range(num_sites):
        cell = int(math.floor((sites[site, 1] - origin_y) / cell_size)) * columns + int(
            math.floor((sites[site, 0] - origin_x) / cell_size)
        )
        cell_of_site[site] = cell
        starts[cell + 1] += 1
    for cell in range(cells):
        starts[cell + 1] += starts[cell]
    sorted_sites = np.empty(num_sites, np.int64)
    next_slot = starts[:-1].copy()
    occupied = np.zeros((rows, columns), np.bool_)
    row_first = np.full(rows, columns, np.int64)  # the occupied columns of each row lie in [first, last]
    row_last = np.full(rows, -1, np.int64)
    for site in range(num_sites):
        cell = cell_of_site[site]
        sorted_sites[next_slot[cell]] = site
        next_slot[cell] += 1
        row, column = cell // columns, cell % columns
        occupied[row, column] = True
        row_first[row], row_last[row] = min(row_first[row], column), max(row_last[row], column)
    squared_empty, nearest_cell = _cell_distance_transform(occupied)

    found = np.empty(queries.shape[0], np.int64)
    for query in range(queries.shape[0]):
        query_x, query_y = np.float64(queries[query, 0]), np.float64(queries[query, 1])
        cell_y = int(math.floor((query_y - origin_y) / cell_size))
        cell_x = int(math.floor((query_x - origin_x) / cell_size))
        empty_within = squared_empty[cell_y, cell_x]  # every cell centre closer than this (squared, in cells) is empty
        best, best_site = _closest_in_cell(
            nearest_cell[cell_y, cell_x], starts, sorted_sites, sites, query_x, query_y, np.inf, -1
        )
        # a closer site lies in a cell whose centre is within √best / h + margin of the query cell's centre
        reach = math.sqrt(best) / cell_size + margin
        for step in range(2 * int(reach) + 1):  # rows 0, +1, −1, +2, … so that ``reach`` shrinks early
            offset_y = (step + 1) // 2 if step % 2 == 1 else -(step // 2)
            if offset_y * offset_y > reach * reach:
                continue
            y = cell_y + offset_y
            if y < 0 or y >= rows or row_last[y] < 0:
                continue
            outer = int(math.sqrt(reach * reach - offset_y * offset_y))
            lowest, highest = (
                max(row_first[y] - cell_x, -outer),
                min(row_last[y] - cell_x, outer),
            )  # offsets of this row worth visiting
            if lowest > highest:
                continue
            inside = empty_within - offset_y * offset_y
            inner = int(math.sqrt(max(inside, 0)))  # the least |offset_x| outside the empty disc: inner² ≥ inside
            while inner * inner < inside:
                inner += 1
            while inner > 0 and (inner - 1) * (inner - 1) >= inside:
                inner -= 1
            for side in range(2):
                if side == 0:
                    first, last = lowest, (min(highest, -inner) if inner > 0 else highest)
                elif inner > 0:
                    first, last = max(lowest, inner), highest
                else:
                    break
                for offset_x in range(first, last + 1):
                    x = cell_x + offset_x
                    cell = y * columns + x
                    if starts[cell] == starts[cell + 1]:
                        continue
                    left, top = (
                        origin_x + x * cell_size,
                        origin_y + y * cell_size,
                    )  # skip a cell that cannot hold a closer site
                    gap_x = max(left - query_x, query_x - left - cell_size, 0.0)
                    gap_y = max(top - query_y, query_y - top - cell_size, 0.0)
                    if gap_x * gap_x + gap_y * gap_y >= best:
                        continue
                    best, best_site = _closest_in_cell(
                        cell, starts, sorted_sites, sites, query_x, query_y, best, best_site
                    )
            reach = math.sqrt(best) / cell_size + margin
        found[query] = best_site
    return found


@numba.njit(nogil=True, cache=True)
def mesh_loss_sample(
    points: np.ndarray, silhouette: np.ndarray, nearest: np.ndarray, with_gradient: bool
) -> tuple[float, np.ndarray]:
    """One sample's L_mr = mean_v d(v, S_GT)² + mean_x d(x, vertices)² and its gradient (V,2)
    float32 w.r.t. ``points`` (V,2) float32, finite, in crop pixels (empty (0,2) without
    ``with_gradient``). ``silhouette`` (S,S) bool with foreground; ``nearest`` (2,S,S) the
    distance transform's nearest foreground (row, column) of every pixel.

    A vertex in an S_GT pixel takes that pixel's centre; another vertex inside the crop takes the
    nearest S_GT pixel centre among the distance transform's answers at the four pixel centres
    around it (exact unless those answers miss it, a few in 10⁵); a vertex outside the crop, and
    every S_GT pixel, takes its exact nearest point of the other set from :func:`nearest_sites`."""
    size = silhouette.shape[1]
    num_points = points.shape[0]
    pixel_count = 0
    for row in range(size):
        for column in range(size):
            pixel_count += silhouette[row, column]
    pixels = np.empty((pixel_count, 2), np.float32)  # S_GT pixel centres, x then y
    filled = 0
    for row in range(size):
        for column in range(size):
            if silhouette[row, column]:
                pixels[filled, 0], pixels[filled, 1] = column + 0.5, row + 0.5
                filled += 1
    max_cells = 4 * size
    nearest_point = nearest_sites(points, pixels, max_cells, True)

    targets = np.empty((num_points, 2), np.float32)
    outside = np.zeros(num_points, np.bool_)
    outside_count = 0
    for index in range(num_points):
        x, y = points[index, 0], points[index, 1]
        if x < 0 or y < 0 or x >= size or y >= size:
            outside[index] = True
            outside_count += 1
            continue
        if silhouette[int(y), int(x)]:  # in an S_GT pixel: its centre is the nearest of all pixel centres
            targets[index, 0], targets[index, 1] = int(x) + 0.5, int(y) + 0.5
            continue
        corner_x = min(max(int(math.floor(x - 0.5)), 0), size - 2)
        corner_y = min(max(int(math.floor(y - 0.5)), 0), size - 2)
        best = np.inf
        for corner in range(4):
            row, column = corner_y + corner // 2, corner_x + corner % 2
            target_x, target_y = nearest[1, row, column] + 0.5, nearest[0, row, column] + 0.5
            distance = (target_x - x) ** 2 + (target_y - y) ** 2
            if distance < best:
                best = distance
                targets[index, 0], targets[index, 1] = target_x, target_y
    if outside_count > 0:
        outside_points = np.empty((outside_count, 2), np.float32)
        filled = 0
        for index in range(num_points):
            if outside[index]:
                outside_points[filled] = points[index]
                filled += 1
        nearest_pixel = nearest_sites(pixels, outside_points, max_cells, False)
        filled = 0
        for index in range(num_points):
            if outside[index]:
                targets[index] = pixels[nearest_pixel[filled]]
                filled += 1

    term_predicted = 0.0
    for index in range(num_points):
        term_predicted += (np.float64(points[index, 0]) - targets[index, 0]) ** 2 + (
            np.float64(points[index, 1]) - targets[index, 1]
        ) ** 2
    term_ground_truth = 0.0
    for pixel in range(pixel_count):
        point = nearest_point[pixel]
        term_ground_truth += (np.float64(points[point, 0]) - pixels[pixel, 0]) ** 2 + (
            np.float64(points[point, 1]) - pixels[pixel, 1]
        ) ** 2
    value = term_predicted / num_points + term_ground_truth / pixel_count
    if not with_gradient:
        return value, np.empty((0, 2), np.float32)
    gradient = np.empty((num_points, 2), np.float32)
    for index in range(num_points):  # d/dp of mean |p − target|²
        for axis in range(2):
            gradient[index, axis] = (points[index, axis] - targets[index, axis]) * (2.0 / num_points)
    for pixel in range(pixel_count):  # each S_GT pixel pulls its nearest point
        point = nearest_point[pixel]
        for axis in range(2):
            gradient[point, axis] += (points[point, axis] - pixels[pixel, axis]) * (2.0 / pixel_count)
    return value, gradient
