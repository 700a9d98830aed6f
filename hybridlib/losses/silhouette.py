"""L_mr, the mesh (silhouette) reprojection loss of the paper (Eq. 1):

    L_mr = Σ_{x∈Ŝ} d(x, S_GT)² + Σ_{x∈S_GT} d(x, Ŝ)²

with the predicted silhouette Ŝ approximated, as in the authors' code, by the projected mesh
vertices, S_GT the foreground pixel centres of the ground-truth silhouette, d the Euclidean
distance to the nearest point of the other set, each sum divided by its number of points.
Distances are in pixels of the crop; callers multiply by :func:`reference_pixel_scale` to
report them in pixels of a 224-px crop whatever the input resolution. Samples without a
silhouette (or with an empty one) are left out; the batch loss is the mean over the samples
that have one (0 if none does).

Two implementations with the same value (|fast / dense − 1| about 1e-5 on generated batches):
- :func:`mesh_reprojection_loss_dense`, the all-pairs reference (chunked), for tests;
- :func:`mesh_reprojection_loss` (and :func:`mesh_reprojection_loss_per_sample`), the fast
  path: the nearest S_GT pixel of each vertex from a Euclidean distance transform of S_GT
  (precomputed per sample: :func:`hybridlib.geometry.nearest_foreground_indices`) read at the
  four pixel centres around the vertex, and the nearest vertex of each S_GT pixel from a k-d
  tree over the projected vertices, one sample per thread. The distances are then recomputed
  exactly from those index pairs, so the gradient w.r.t. the vertices (and Θ) is that of Eq. 1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.spatial
import torch

from hybridlib.geometry import nearest_foreground_indices


REFERENCE_CROP_SIZE = 224  # the paper's input size: L_mr is reported in its pixels


def reference_pixel_scale(image_size: int) -> float:
    """Factor that turns squared distances in pixels of an ``image_size`` crop into squared
    pixels of a 224-px crop, so that L_mr (and w_mr's balance against L_kpr) does not depend
    on the input resolution of a preset."""
    return (REFERENCE_CROP_SIZE / image_size) ** 2


def normalized_to_crop_pixels(points_2d: torch.Tensor, image_size: int) -> torch.Tensor:
    """Normalised coordinates [−1, 1] → continuous crop pixels [0, image_size]."""
    return (points_2d + 1.0) * (0.5 * image_size)


def foreground_pixel_centres(silhouette: torch.Tensor) -> torch.Tensor:
    """(N,2) x, y pixel centres of a (S,S) bool silhouette's foreground, float32."""
    rows, columns = torch.nonzero(silhouette, as_tuple=True)
    return torch.stack([columns, rows], dim=1).float() + 0.5


def _samples_with_foreground(silhouettes: torch.Tensor, has_silhouette: torch.Tensor) -> list[int]:
    """Indices of the samples with a silhouette that has foreground (an empty mask gives no
    distances to compare: it is left out rather than turned into NaN)."""
    usable = has_silhouette.to(silhouettes.device) & silhouettes.flatten(1).any(dim=1)
    return torch.nonzero(usable).flatten().tolist()


def _pair_terms_dense(points: torch.Tensor, foreground: torch.Tensor, chunk_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared nearest distance points → foreground and foreground → points (all pairs)."""
    to_foreground = []
    to_points = None
    for start in range(0, len(points), chunk_size):
        squared = torch.cdist(points[start : start + chunk_size], foreground).pow(2)  # (c,N)
        to_foreground.append(squared.min(dim=1).values)
        chunk_min = squared.min(dim=0).values
        to_points = chunk_min if to_points is None else torch.minimum(to_points, chunk_min)
    return torch.cat(to_foreground).mean(), to_points.mean()


def mesh_reprojection_loss_dense(points_px: torch.Tensor, silhouettes: torch.Tensor, has_silhouette: torch.Tensor, chunk_size: int = 2048) -> torch.Tensor:
    """Reference L_mr by all pairs. points_px (B,V,2) projected vertices in crop pixels,
    silhouettes (B,S,S) bool, has_silhouette (B,) bool. Returns the batch mean (scalar)."""
    losses = []
    for index in _samples_with_foreground(silhouettes, has_silhouette):
        foreground = foreground_pixel_centres(silhouettes[index]).to(points_px)
        term_predicted, term_ground_truth = _pair_terms_dense(points_px[index], foreground, chunk_size)
        losses.append(term_predicted + term_ground_truth)
    return torch.stack(losses).mean() if losses else points_px.sum() * 0.0


def _nearest_foreground_targets(points: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """(V,2) x, y centres of the S_GT pixels nearest to continuous points (V,2): the distance
    transform's answers (``nearest`` (2,S,S) row, column) at the four pixel centres around each
    point, the closest kept (exact wherever those four centres share their nearest S_GT pixel,
    or it is among their answers: Voronoi cells are convex). Points outside the image get their
    border pixels' answers here; :func:`mesh_reprojection_loss` replaces those by a k-d tree
    search."""
    image_size = nearest.shape[-1]
    centre_x = nearest[1].ravel().astype(points.dtype) + 0.5  # (S·S,) x of the nearest S_GT pixel centre of every pixel
    centre_y = nearest[0].ravel().astype(points.dtype) + 0.5
    corner = np.clip(np.floor(points - 0.5).astype(np.int64), 0, image_size - 2)  # top-left of the 2×2 pixel centres around each point
    flat = (corner[:, 1] * image_size + corner[:, 0])[:, None] + np.array([0, 1, image_size, image_size + 1])  # (V,4)
    found_x, found_y = centre_x[flat], centre_y[flat]
    best = np.argmin((found_x - points[:, :1]) ** 2 + (found_y - points[:, 1:]) ** 2, axis=1)[:, None]
    return np.concatenate([np.take_along_axis(found_x, best, 1), np.take_along_axis(found_y, best, 1)], axis=1)


def _kd_tree(points: np.ndarray) -> scipy.spatial.cKDTree:
    return scipy.spatial.cKDTree(points, leafsize=64, balanced_tree=False, compact_nodes=False)  # measured fastest to build and query once


def mesh_reprojection_loss(
    points_px: torch.Tensor,
    silhouettes: torch.Tensor,
    has_silhouette: torch.Tensor,
    nearest_foreground: torch.Tensor | None = None,
    num_samples: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fast L_mr, same arguments as :func:`mesh_reprojection_loss_dense`; ``nearest_foreground``
    (B,2,S,S) from :func:`hybridlib.geometry.nearest_foreground_indices` (computed here when
    None); ``num_samples`` replaces the divisor (this batch's samples with a silhouette), e.g.
    by the count over all processes of a distributed batch.

    Predicted → S_GT: the distance transform's nearest pixels around each vertex (vertices
    outside the crop: a k-d tree over S_GT). S_GT → predicted: the exact nearest vertex of every
    foreground pixel, from a k-d tree over the sample's projected vertices. Both searches run
    one sample per thread; both distances are then recomputed from the chosen pairs with
    autograd, so gradients reach the vertices.
    """
    usable, losses = _per_sample_losses(points_px, silhouettes, has_silhouette, nearest_foreground)
    if not usable:
        return points_px.sum() * 0.0
    divisor = torch.tensor(float(len(usable)), device=points_px.device) if num_samples is None else num_samples.clamp(min=1.0)
    return losses.sum() / divisor


def mesh_reprojection_loss_per_sample(
    points_px: torch.Tensor, silhouettes: torch.Tensor, has_silhouette: torch.Tensor, nearest_foreground: torch.Tensor | None = None
) -> torch.Tensor:
    """(B,) fast L_mr of each sample (arguments as :func:`mesh_reprojection_loss`), NaN for the
    samples left out (no silhouette, or an empty one)."""
    usable, losses = _per_sample_losses(points_px, silhouettes, has_silhouette, nearest_foreground)
    per_sample = torch.full((points_px.shape[0],), torch.nan, device=points_px.device, dtype=points_px.dtype)
    if usable:
        per_sample = per_sample.index_put((torch.tensor(usable, device=points_px.device),), losses)
    return per_sample


def _per_sample_losses(
    points_px: torch.Tensor, silhouettes: torch.Tensor, has_silhouette: torch.Tensor, nearest_foreground: torch.Tensor | None
) -> tuple[list[int], torch.Tensor]:
    """The samples with a usable silhouette and their L_mr (N,), both terms of Eq. 1."""
    usable = _samples_with_foreground(silhouettes, has_silhouette)
    if not usable:
        return usable, points_px.new_zeros(0)
    device = points_px.device
    chosen = torch.tensor(usable, device=device)
    points = points_px[chosen]  # (N,V,2)
    masks = silhouettes[chosen].to(device)
    if nearest_foreground is None:
        nearest_numpy = np.stack([nearest_foreground_indices(mask) for mask in masks.cpu().numpy()])  # (N,2,S,S)
    else:
        nearest_numpy = nearest_foreground[chosen.to(nearest_foreground.device)].cpu().numpy()
    detached = points.detach()
    if not torch.isfinite(detached).all():  # a diverged prediction: the loss says so (NaN), the training loop stops on it
        return usable, points.sum(dim=(1, 2)) * torch.nan
    sample_of_pixel, rows, columns = torch.nonzero(masks, as_tuple=True)
    foreground = torch.stack([columns, rows], dim=1).to(points.dtype) + 0.5  # (M,2) all samples' S_GT pixel centres
    pixel_counts = torch.bincount(sample_of_pixel, minlength=len(usable))

    points_numpy, foreground_numpy = detached.cpu().numpy(), foreground.cpu().numpy()
    starts = np.concatenate([[0], np.cumsum(pixel_counts.cpu().numpy())])

    def search(sample: int) -> tuple[np.ndarray, np.ndarray]:
        """This sample's nearest vertex of every S_GT pixel (M_i,) and nearest S_GT pixel centre of every vertex (V,2)."""
        own_points, own_pixels = points_numpy[sample], foreground_numpy[starts[sample] : starts[sample + 1]]
        _, nearest_vertex = _kd_tree(own_points).query(own_pixels)
        targets = _nearest_foreground_targets(own_points, nearest_numpy[sample])
        outside = ((own_points < 0) | (own_points >= nearest_numpy.shape[-1])).any(axis=1)
        if outside.any():
            _, nearest_pixel = _kd_tree(own_pixels).query(own_points[outside])
            targets[outside] = own_pixels[nearest_pixel]
        return nearest_vertex, targets

    # numpy and scipy's trees work without the GIL: one sample per thread, up to torch's thread count
    with ThreadPoolExecutor(max_workers=max(1, min(len(usable), torch.get_num_threads()))) as pool:
        found = list(pool.map(search, range(len(usable))))
    nearest_vertex = torch.from_numpy(np.concatenate([vertex for vertex, _ in found])).to(device)
    targets = torch.from_numpy(np.stack([sample_targets for _, sample_targets in found])).to(points)

    term_predicted = (points - targets).pow(2).sum(dim=-1).mean(dim=1)  # (N,)
    squared = (foreground - points[sample_of_pixel, nearest_vertex]).pow(2).sum(dim=1)  # (M,)
    term_ground_truth = torch.zeros(len(usable), device=device, dtype=points.dtype).index_add(0, sample_of_pixel, squared) / pixel_counts.to(points.dtype)
    return usable, term_predicted + term_ground_truth
