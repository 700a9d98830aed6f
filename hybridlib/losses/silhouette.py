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


_NEIGHBOURHOOD = torch.tensor([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])  # (9,2)


def _nearest_foreground_points(points: torch.Tensor, nearest: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
    """(V,2) x, y centres of the S_GT pixels nearest to continuous points (V,2): the distance
    transform's answers for the point's pixel and its 8 neighbours, the closest one kept;
    points outside the image ask a k-d tree over the ``foreground`` centres (N,2) instead."""
    image_size = nearest.shape[-1]
    detached = points.detach()
    pixel = torch.floor(detached).long().flip(1).clamp(0, image_size - 1)  # (V,2) row, column
    around = (pixel[:, None, :] + _NEIGHBOURHOOD.to(pixel.device)).clamp(0, image_size - 1)  # (V,9,2)
    candidates = nearest[:, around[..., 0], around[..., 1]].long()  # (2,V,9) row, column
    candidate_xy = torch.stack([candidates[1], candidates[0]], dim=-1).to(points) + 0.5  # (V,9,2)
    best = (candidate_xy - detached[:, None, :]).pow(2).sum(dim=-1).argmin(dim=1)
    targets = candidate_xy[torch.arange(len(points), device=points.device), best]
    outside = ((detached < 0) | (detached >= image_size)).any(dim=1)
    if outside.any():
        _, index = scipy.spatial.cKDTree(foreground.cpu().numpy()).query(detached[outside].cpu().numpy())
        targets[outside] = foreground[torch.from_numpy(index).to(points.device)]
    return targets


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

    Predicted → S_GT: the distance transform's nearest pixels around each vertex's pixel.
    S_GT → predicted: the exact nearest vertex of every foreground pixel (a k-d tree over the
    projected vertices). Both distances are then recomputed from the chosen pairs with
    autograd, so gradients reach the vertices.
    """
    losses = []
    for index in _samples_with_foreground(silhouettes, has_silhouette):
        points = points_px[index]
        silhouette = silhouettes[index]
        if nearest_foreground is None:
            nearest = torch.from_numpy(nearest_foreground_indices(silhouette.cpu().numpy())).to(points.device)
        else:
            nearest = nearest_foreground[index].to(points.device)
        foreground = foreground_pixel_centres(silhouette).to(points)
        term_predicted = (points - _nearest_foreground_points(points, nearest, foreground)).pow(2).sum(dim=1).mean()
        _, vertex = scipy.spatial.cKDTree(points.detach().cpu().numpy()).query(foreground.cpu().numpy())
        term_ground_truth = (foreground - points[torch.from_numpy(vertex).to(points.device)]).pow(2).sum(dim=1).mean()
        losses.append(term_predicted + term_ground_truth)
    if not losses:
        return points_px.sum() * 0.0
    divisor = torch.tensor(float(len(losses)), device=points_px.device) if num_samples is None else num_samples.clamp(min=1.0)
    return torch.stack(losses).sum() / divisor
