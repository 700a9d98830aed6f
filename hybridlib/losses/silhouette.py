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
  four pixel centres around the vertex, and the exact nearest vertex of each S_GT pixel from a
  grid search (:mod:`hybridlib.losses.nearest_points`, compiled, one sample per thread). The
  value and its gradient w.r.t. the vertices are then computed from those pairs, as autograd
  would with the pairs held fixed, so the gradient w.r.t. Θ is that of Eq. 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import FunctionCtx, once_differentiable

from hybridlib.geometry import nearest_foreground_indices
from hybridlib.losses.nearest_points import mesh_loss_sample
from hybridlib.thread_pool import cpu_threads

REFERENCE_CROP_SIZE = 224  # the paper's input size: L_mr is reported in its pixels


def reference_pixel_scale(image_size: int) -> float:
    """Factor that turns squared distances in pixels of an ``image_size`` crop into squared
    pixels of a 224-px crop, so that L_mr (and w_mr's balance against L_kpr) does not depend
    on the input resolution of a preset."""
    return (REFERENCE_CROP_SIZE / image_size) ** 2


def foreground_pixel_centres(silhouette: torch.Tensor) -> torch.Tensor:
    """(N,2) x, y pixel centres of a (S,S) bool silhouette's foreground, float32."""
    rows, columns = torch.nonzero(silhouette, as_tuple=True)
    return torch.stack([columns, rows], dim=1).float() + 0.5


def _samples_with_foreground(silhouettes: torch.Tensor, has_silhouette: torch.Tensor) -> list[int]:
    """Indices of the samples with a silhouette that has foreground (an empty mask gives no
    distances to compare: it is left out rather than turned into NaN)."""
    usable = has_silhouette.to(silhouettes.device) & silhouettes.flatten(1).any(dim=1)
    return torch.nonzero(usable).flatten().tolist()


def _pair_terms_dense(
    points: torch.Tensor, foreground: torch.Tensor, chunk_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared nearest distance points → foreground and foreground → points (all pairs)."""
    to_foreground = []
    to_points = None
    for start in range(0, len(points), chunk_size):
        squared = torch.cdist(points[start : start + chunk_size], foreground).pow(2)  # (c,N)
        to_foreground.append(squared.min(dim=1).values)
        chunk_min = squared.min(dim=0).values
        to_points = chunk_min if to_points is None else torch.minimum(to_points, chunk_min)
    return torch.cat(to_foreground).mean(), to_points.mean()


def mesh_reprojection_loss_dense(
    points_px: torch.Tensor, silhouettes: torch.Tensor, has_silhouette: torch.Tensor, chunk_size: int = 2048
) -> torch.Tensor:
    """Reference L_mr by all pairs. points_px (B,V,2) projected vertices in crop pixels,
    silhouettes (B,S,S) bool, has_silhouette (B,) bool. Returns the batch mean (scalar)."""
    losses = []
    for index in _samples_with_foreground(silhouettes, has_silhouette):
        foreground = foreground_pixel_centres(silhouettes[index]).to(points_px)
        term_predicted, term_ground_truth = _pair_terms_dense(points_px[index], foreground, chunk_size)
        losses.append(term_predicted + term_ground_truth)
    return torch.stack(losses).mean() if losses else points_px.sum() * 0.0


def _sample_loss_and_gradient(
    points: np.ndarray, silhouette: np.ndarray, nearest: np.ndarray, with_gradient: bool
) -> tuple[float, np.ndarray | None]:
    """One sample's L_mr and its gradient (V,2) (None without ``with_gradient``); NaN for a
    diverged prediction (non-finite points), which the training loop stops on."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    if not np.isfinite(points).all():
        return float("nan"), np.full_like(points, np.nan) if with_gradient else None
    value, gradient = mesh_loss_sample(
        points,
        np.ascontiguousarray(silhouette, dtype=np.bool_),
        np.ascontiguousarray(nearest, dtype=np.int16),
        with_gradient,
    )
    return value, gradient if with_gradient else None


class _PrecomputedGradient(torch.autograd.Function):
    """values (N,) with the gradient w.r.t. ``points`` (N,V,2) already computed (N,V,2)."""

    @staticmethod
    def forward(ctx: FunctionCtx, points: torch.Tensor, values: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(gradients)
        return values.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_values: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (gradients,) = ctx.saved_tensors
        return gradients * grad_values[:, None, None], None, None


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
    outside the crop: an exact grid search over S_GT). S_GT → predicted: the exact nearest
    vertex of every foreground pixel, from a grid search over the sample's projected vertices.
    One sample per thread computes both, the value and its gradient w.r.t. the vertices.
    """
    usable, losses = _per_sample_losses(points_px, silhouettes, has_silhouette, nearest_foreground)
    if not usable:
        return points_px.sum() * 0.0
    divisor = (
        torch.tensor(float(len(usable)), device=points_px.device) if num_samples is None else num_samples.clamp(min=1.0)
    )
    return losses.sum() / divisor


def mesh_reprojection_loss_per_sample(
    points_px: torch.Tensor,
    silhouettes: torch.Tensor,
    has_silhouette: torch.Tensor,
    nearest_foreground: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B,) fast L_mr of each sample (arguments as :func:`mesh_reprojection_loss`), NaN for the
    samples left out (no silhouette, or an empty one)."""
    usable, losses = _per_sample_losses(points_px, silhouettes, has_silhouette, nearest_foreground)
    per_sample = torch.full((points_px.shape[0],), torch.nan, device=points_px.device, dtype=points_px.dtype)
    if usable:
        per_sample = per_sample.index_put((torch.tensor(usable, device=points_px.device),), losses)
    return per_sample


def _per_sample_losses(
    points_px: torch.Tensor,
    silhouettes: torch.Tensor,
    has_silhouette: torch.Tensor,
    nearest_foreground: torch.Tensor | None,
) -> tuple[list[int], torch.Tensor]:
    """The samples with a usable silhouette and their L_mr (N,), both terms of Eq. 1, each
    sample's search and gradient in a thread of its own (largest silhouettes first)."""
    usable = _samples_with_foreground(silhouettes, has_silhouette)
    if not usable:
        return usable, points_px.new_zeros(0)
    every_sample = len(usable) == points_px.shape[0]  # the usual case: no copies
    points = points_px if every_sample else points_px[torch.tensor(usable, device=points_px.device)]
    masks = (silhouettes if every_sample else silhouettes[usable]).cpu().numpy()
    if nearest_foreground is None:
        nearest_numpy = np.stack([nearest_foreground_indices(mask) for mask in masks])  # (N,2,S,S)
    else:
        nearest_numpy = (nearest_foreground if every_sample else nearest_foreground[usable]).cpu().numpy()
    points_numpy = points.detach().cpu().numpy()
    with_gradient = points.requires_grad
    largest_first = np.argsort(-masks.reshape(len(usable), -1).sum(axis=1), kind="stable")
    found = cpu_threads().map(
        lambda sample: _sample_loss_and_gradient(
            points_numpy[sample], masks[sample], nearest_numpy[sample], with_gradient
        ),
        largest_first,
    )
    values, gradients = [0.0] * len(usable), [None] * len(usable)
    for sample, (value, gradient) in zip(largest_first, found, strict=True):
        values[sample], gradients[sample] = value, gradient
    values_tensor = torch.tensor(values, dtype=points.dtype, device=points.device)
    if not with_gradient:
        return usable, values_tensor
    return usable, _PrecomputedGradient.apply(points, values_tensor, torch.from_numpy(np.stack(gradients)).to(points))
