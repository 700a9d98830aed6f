"""Evaluate a trained model on the test split: the paper's validation numbers — the weighted
KPR and MR losses of the last IEF stage, ours (Eq. 1) and as the authors' code computes them
(:mod:`hybridlib.evaluation.authors_scale`) — plus PCK@0.2, silhouette IoU, body plausibility
(joints outside the anatomical limits, bone-length deviation from the body model's own
mean-shape skeleton, mean critic score) and, where 3D truth exists (generated data),
MPJPE / PA-MPJPE in mm. One pandas row per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from hybridlib.body_model import BodyModel
from hybridlib.data import AugmentationConfig, DataConfig, build_dataset, collate_samples
from hybridlib.data.folders import MOSH_FOLDER
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.evaluation import metrics
from hybridlib.evaluation.authors_scale import authors_validation_losses, mesh_error_sums
from hybridlib.losses.keypoints import keypoint_error_sums, keypoint_reprojection_loss_per_sample
from hybridlib.losses.silhouette import mesh_reprojection_loss_per_sample, reference_pixel_scale
from hybridlib.losses.weights import W_KPR, W_MR
from hybridlib.models.forward import Networks, build_networks, predict, resolve_device
from hybridlib.models.regressor import ConstantTheta, mean_theta
from hybridlib.models.spin_format import load_spin_checkpoint
from hybridlib.precision import inference_precision
from hybridlib.skeleton import NUM_BETAS, NUM_BODY_JOINTS
from hybridlib.training.checkpoint import load_checkpoint
from hybridlib.training.config import TrainConfig


@dataclass(frozen=True)
class EvaluationConfig:
    """Loss weights for the validation losses (the authors'), batching, device, an optional
    cap on the number of test images (smoke runs), and the precision of a checkpoint's encoder
    (None: the one it trained in; "fp32" or "bf16-mixed")."""

    w_kpr: float = W_KPR
    w_mr: float = W_MR
    batch_size: int = 16
    num_workers: int = 0
    device: str = "auto"
    max_images: int | None = None
    progress: bool = True
    precision: str | None = None


def _nanmean(values: list[torch.Tensor]) -> float:
    stacked = torch.cat([value.float().cpu() for value in values]) if values else torch.tensor([])
    finite = stacked[~torch.isnan(stacked)]
    return float(finite.mean()) if len(finite) else math.nan


@torch.no_grad()
def evaluate(
    networks: Networks, dataset: torch.utils.data.Dataset, config: EvaluationConfig = EvaluationConfig()
) -> dict[str, float]:
    """Metrics of the last stage over ``dataset`` (validation crops), averaged over samples."""
    device = resolve_device(config.device)
    networks.model.to(device).eval()
    networks.body_model.to(device)
    if networks.critic is not None:
        networks.critic.to(device).eval()
    if config.max_images is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(config.max_images, len(dataset))))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, num_workers=config.num_workers, collate_fn=collate_samples
    )
    rest = networks.body_model(*(torch.zeros(1, size, device=device) for size in (3, 3 * NUM_BODY_JOINTS, NUM_BETAS)))
    reference_skeleton = rest.keypoints_lsp[0]

    collected: dict[str, list[torch.Tensor]] = {
        name: []
        for name in ("kpr", "mr", "pck", "iou", "outside", "bones", "critic", "mpjpe", "pa_mpjpe")
        + ("authors_kpr_errors", "authors_kpr_counts", "authors_mr")
    }
    for batch in tqdm(loader, desc="evaluating", unit="batch", disable=not config.progress):
        batch = batch.to(device)
        pred = predict(networks, batch.image)
        parts, output = pred.parts, pred.output
        collected["kpr"].append(keypoint_reprojection_loss_per_sample(pred.keypoints_2d, batch.keypoints_2d))
        mesh_losses = mesh_reprojection_loss_per_sample(
            pred.vertices_px, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest
        )  # NaN: no silhouette
        collected["mr"].append(mesh_losses * reference_pixel_scale(batch.image.shape[-1]))
        errors, counts = keypoint_error_sums(pred.keypoints_2d, batch.keypoints_2d)
        collected["authors_kpr_errors"].append(errors.cpu())
        collected["authors_kpr_counts"].append(counts.cpu())
        collected["authors_mr"].append(mesh_error_sums(pred.vertices_px, batch.silhouette, batch.has_silhouette))
        collected["pck"].append(metrics.pck(pred.keypoints_2d, batch.keypoints_2d))
        collected["iou"].append(
            metrics.silhouette_iou(
                output.vertices.cpu(),
                networks.body_model.faces,
                parts.camera.cpu(),
                batch.silhouette.cpu(),
                batch.has_silhouette.cpu(),
            )
        )
        collected["outside"].append(metrics.joints_outside_limits_percent(output.rotation_matrices))
        collected["bones"].append(metrics.bone_length_deviation_percent(output.keypoints_lsp, reference_skeleton))
        if networks.critic is not None:
            with networks.precision.autocast(batch.image.device):
                collected["critic"].append(networks.critic(pred.body).sum(dim=1))
        if batch.has_3d.any():
            with_truth = batch.has_3d
            collected["mpjpe"].append(metrics.mpjpe_mm(output.keypoints_lsp[with_truth], batch.joints_3d[with_truth]))
            collected["pa_mpjpe"].append(
                metrics.pa_mpjpe_mm(output.keypoints_lsp[with_truth], batch.joints_3d[with_truth])
            )
    return {
        "kpr_loss": config.w_kpr * _nanmean(collected["kpr"]),
        "mr_loss": config.w_mr * _nanmean(collected["mr"]),
        "pck_0.2": _nanmean(collected["pck"]),
        "silhouette_iou": _nanmean(collected["iou"]),
        "joints_outside_limits_pct": _nanmean(collected["outside"]),
        "bone_length_deviation_pct": _nanmean(collected["bones"]),
        "critic_score": _nanmean(collected["critic"]),
        "mpjpe_mm": _nanmean(collected["mpjpe"]),
        "pa_mpjpe_mm": _nanmean(collected["pa_mpjpe"]),
        **authors_validation_losses(
            *(torch.cat(collected[name]) for name in ("authors_kpr_errors", "authors_kpr_counts", "authors_mr"))
        ),
        "test_images": float(len(dataset)),
    }


def load_trained(checkpoint_path: str | Path, precision: str | None = None) -> tuple[Networks, TrainConfig, int]:
    """Rebuild the networks of a checkpoint (no ImageNet weights needed: all weights are in
    it), in ``precision`` ("fp32" or "bf16-mixed"; None: the one the run trained in); returns
    them, the run's configuration and its step count."""
    state = load_checkpoint(checkpoint_path)
    config = replace(TrainConfig.from_dict(state["config"]), pretrained=False, regressor_weights=None)
    networks = build_networks(config.networks, BodyModel(config.body_model))
    networks.precision = inference_precision(state.get("precision"), precision)
    networks.precision.prepare_encoder(networks.model.encoder)
    try:
        networks.model.load_state_dict(state["model"])
        if networks.critic is not None and state.get("critic") is not None:
            networks.critic.load_state_dict(state["critic"])
    except RuntimeError as error:  # torch lists every mismatching key: keep the first lines
        detail = " ".join(str(error).split("\n")[:2])[:300]
        raise ValueError(
            f"checkpoint {checkpoint_path}: its weights do not fit the networks its own configuration describes "
            f"(backbone {config.backbone}, critic {config.critic}): {detail}. "
            "The file was edited or comes from another architecture; evaluate it with the code version that wrote it"
        ) from error
    return networks, config, int(state["step"])


def evaluate_checkpoint(
    checkpoint_path: str | Path,
    data_root: str | Path | None = None,
    config: EvaluationConfig = EvaluationConfig(),
    split: Literal["test", "train"] = "test",
) -> pd.DataFrame:
    """One DataFrame row: the metrics of a checkpoint on the LSP test split of ``data_root``
    (default: the data it was trained on), with the run's settings beside them. ``split="train"``
    evaluates centred crops of the training images instead (the overfitting study)."""
    networks, train_config, steps = load_trained(checkpoint_path, config.precision)
    root = Path(data_root if data_root is not None else train_config.data_root)
    settings = {
        "checkpoint": str(checkpoint_path),
        "critic": train_config.critic,
        "w_kpr": train_config.w_kpr,
        "w_mr": train_config.w_mr,
        "backbone": train_config.backbone,
        "image_size": train_config.image_size,
        "steps": steps,
    }
    return _evaluate_row(networks, root, train_config.image_size, split, config, settings)


def evaluate_spin_checkpoint(
    checkpoint_path: str | Path,
    data_root: str | Path,
    body_model: str | Path | None = None,
    config: EvaluationConfig = EvaluationConfig(),
    image_size: int = 224,
) -> pd.DataFrame:
    """One DataFrame row, as :func:`evaluate_checkpoint`, for a pretrained network in SPIN's
    checkpoint format (:mod:`hybridlib.models.spin_format`) on the LSP test split of
    ``data_root``, posed by ``body_model`` (default: the open model; give the licensed SMPL
    file, whose β the checkpoint predicts). SPIN works on 224-px crops."""
    networks = Networks(model=load_spin_checkpoint(checkpoint_path), critic=None, body_model=BodyModel(body_model))
    settings = {
        "checkpoint": str(checkpoint_path),
        "critic": "none",
        "w_kpr": math.nan,
        "w_mr": math.nan,
        "backbone": "resnet50 (SPIN format)",
        "image_size": image_size,
        "steps": math.nan,
    }
    return _evaluate_row(networks, Path(data_root), image_size, "test", config, settings)


def evaluate_trivial(
    data_root: str | Path,
    body_model: str | Path | None,
    image_size: int,
    config: EvaluationConfig = EvaluationConfig(),
    split: Literal["test", "train"] = "test",
) -> pd.DataFrame:
    """One DataFrame row, as :func:`evaluate_checkpoint`, for the trivial predictor: Θ_0 as every
    training run starts from it (the mean pose and β of ``data_root``'s MoSh folder, else the
    template; camera scale 0.9, upright) for every image, no image used."""
    mocap_folder = Path(data_root) / MOSH_FOLDER
    body = BodyModel(body_model)
    mean_pose = mean_betas = None
    if mocap_folder.is_dir():  # the mean the training loop starts Θ_0 from
        mean_pose, mean_betas = RealBodySampler(mocap_folder, body, seed=0).mean_body_pose_and_betas()
    networks = Networks(model=ConstantTheta(mean_theta(mean_pose, mean_betas)), critic=None, body_model=body)
    settings = {
        "checkpoint": "",
        "critic": "none",
        "w_kpr": math.nan,
        "w_mr": math.nan,
        "backbone": "none (mean Θ)",
        "image_size": image_size,
        "steps": 0,
    }
    return _evaluate_row(networks, Path(data_root), image_size, split, config, settings)


def _evaluate_row(
    networks: Networks,
    data_root: Path,
    image_size: int,
    split: Literal["test", "train"],
    config: EvaluationConfig,
    settings: dict[str, object],
) -> pd.DataFrame:
    crops = AugmentationConfig(image_size=image_size, augment=False)
    row = evaluate(networks, build_dataset(DataConfig(root=data_root, augmentation=crops), split), config)
    return pd.DataFrame(
        [
            {
                **settings,
                **{key: (np.round(value, 4) if isinstance(value, float) else value) for key, value in row.items()},
            }
        ]
    )
