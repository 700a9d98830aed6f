"""L_mr, the mesh (silhouette) reprojection loss of the paper (Eq. 1):

    L_mr = Σ_{x∈Ŝ} d(x, S_GT)² + Σ_{x∈S_GT} d(x, Ŝ)²

with the predicted silhouette Ŝ approximated, as in the authors' code, by the projected mesh
vertices, S_GT the foreground pixel centres of the ground-truth silhouette, d the Euclidean
distance to the nearest point of the other set, each sum divided by its number of points.
Distances are in pixels of the crop; callers multiply by :func:`reference_pixel_scale` to
report them in pixels of a 224-px crop whatever the input resolution. Samples without a silhouette (or with an empty one) are
left out; the batch loss is the mean over the samples that have one (0 if none does).

Two implementations with the same value:
- :func:`mesh_reprojection_loss_dense`, the all-pairs reference (chunked), for tests;
- :func:`mesh_reprojection_loss`, the fast path: nearest S_GT pixels from a Euclidean distance
  transform of S_GT (precomputed per sample: :func:`hybridlib.geometry.nearest_foreground_indices`) looked up
  around each vertex's pixel, and the nearest vertex of each S_GT pixel from a k-d tree over
  the projected vertices. The distances are then recomputed exactly from those index pairs,
  so the gradient w.r.t. the vertices (and Θ) is that of Eq. 1.
"""

from __future__ import annotations

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


_OFFSETS = (-1, 0, 1)


def _nearest_foreground_targets(points: torch.Tensor, nearest: torch.Tensor) -> torch.Tensor:
    """(N,V,2) x, y centres of the S_GT pixels nearest to continuous points (N,V,2), detached:
    the distance transforms' answers (``nearest`` (N,2,S,S)) for each point's pixel and its 8
    neighbours, the closest kept. Points outside the image get their border pixel's answer
    here; :func:`mesh_reprojection_loss` replaces those by a k-d tree search."""
    count, num_points, _ = points.shape
    image_size = nearest.shape[-1]
    table = (nearest[:, 0].to(torch.int32) * image_size + nearest[:, 1]).flatten(1)  # (N,S·S) flat index of the nearest S_GT pixel
    x, y = points[..., 0], points[..., 1]
    column, row = torch.floor(x).long().clamp_(0, image_size - 1), torch.floor(y).long().clamp_(0, image_size - 1)
    rows = torch.stack([(row + offset).clamp_(0, image_size - 1) for offset in _OFFSETS], dim=-1) * image_size  # (N,V,3)
    columns = torch.stack([(column + offset).clamp_(0, image_size - 1) for offset in _OFFSETS], dim=-1)
    found = table.gather(1, (rows[..., :, None] + columns[..., None, :]).reshape(count, -1)).reshape(count, num_points, 9)  # (N,V,9)
    found_x = (found % image_size).to(points.dtype) + 0.5
    found_y = torch.div(found, image_size, rounding_mode="floor").to(points.dtype) + 0.5
    best = ((found_x - x[..., None]).square_() + (found_y - y[..., None]).square_()).argmin(dim=-1, keepdim=True)  # (N,V,1)
    return torch.cat([found_x.gather(2, best), found_y.gather(2, best)], dim=-1)


def _kd_tree(points: np.ndarray) -> scipy.spatial.cKDTree:
    return scipy.spatial.cKDTree(points, balanced_tree=False, compact_nodes=False)  # faster to build, as fast to query


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

    Predicted → S_GT, for the whole batch at once: the distance transform's nearest pixels
    around each vertex's pixel (vertices outside the crop: a k-d tree over S_GT).
    S_GT → predicted: the exact nearest vertex of every foreground pixel, from a k-d tree over
    each sample's projected vertices. Both distances are then recomputed from the chosen pairs
    with autograd, so gradients reach the vertices.
    """
    usable = _samples_with_foreground(silhouettes, has_silhouette)
    if not usable:
        return points_px.sum() * 0.0
    device = points_px.device
    chosen = torch.tensor(usable, device=device)
    points = points_px[chosen]  # (N,V,2)
    masks = silhouettes[chosen].to(device)
    if nearest_foreground is None:
        nearest = torch.from_numpy(np.stack([nearest_foreground_indices(mask) for mask in masks.cpu().numpy()])).to(device)
    else:
        nearest = nearest_foreground[chosen].to(device)
    detached = points.detach()
    if not torch.isfinite(detached).all():  # a diverged prediction: the loss says so (NaN), the training loop stops on it
        return points_px.sum() * torch.nan
    targets = _nearest_foreground_targets(detached, nearest)
    sample_of_pixel, rows, columns = torch.nonzero(masks, as_tuple=True)
    foreground = torch.stack([columns, rows], dim=1).to(points.dtype) + 0.5  # (M,2) all samples' S_GT pixel centres
    pixel_counts = torch.bincount(sample_of_pixel, minlength=len(usable))
    outside = ((detached < 0) | (detached >= masks.shape[-1])).any(dim=-1)  # (N,V)

    points_numpy, foreground_numpy, outside_numpy = detached.cpu().numpy(), foreground.cpu().numpy(), outside.cpu().numpy()
    starts = np.concatenate([[0], np.cumsum(pixel_counts.cpu().numpy())])

    def search(sample: int) -> tuple[np.ndarray, np.ndarray | None]:
        own_pixels = foreground_numpy[starts[sample] : starts[sample + 1]]
        _, nearest_vertex = _kd_tree(points_numpy[sample]).query(own_pixels)
        outside_targets = None
        outside_here = outside_numpy[sample]
        if outside_here.any():
            _, nearest_pixel = _kd_tree(own_pixels).query(points_numpy[sample][outside_here])
            outside_targets = own_pixels[nearest_pixel]
        return nearest_vertex, outside_targets

    found = [search(sample) for sample in range(len(usable))]  # (threads measured no faster: building a tree holds the GIL)
    for sample, (_, outside_targets) in enumerate(found):
        if outside_targets is not None:
            targets[sample][outside[sample]] = torch.from_numpy(outside_targets).to(targets)
    nearest_vertex = torch.from_numpy(np.concatenate([vertex for vertex, _ in found])).to(device)

    term_predicted = (points - targets).pow(2).sum(dim=-1).mean(dim=1)  # (N,)
    squared = (foreground - points[sample_of_pixel, nearest_vertex]).pow(2).sum(dim=1)  # (M,)
    term_ground_truth = torch.zeros(len(usable), device=device, dtype=points.dtype).index_add(0, sample_of_pixel, squared) / pixel_counts.to(points.dtype)
    divisor = torch.tensor(float(len(usable)), device=device) if num_samples is None else num_samples.clamp(min=1.0)
    return (term_predicted + term_ground_truth).sum() / divisor
