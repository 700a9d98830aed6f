"""Losses: keypoint reprojection (L_kpr), mesh/silhouette reprojection (L_mr, Eq. 1), adversarial."""

from hybridlib.losses.adversarial import (
    gradient_penalty,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    wgan_generator_loss,
    wgan_gp_critic_loss,
)
from hybridlib.losses.keypoints import keypoint_reprojection_loss
from hybridlib.losses.silhouette import (
    mesh_reprojection_loss,
    mesh_reprojection_loss_dense,
    mesh_reprojection_loss_per_sample,
)

__all__ = [
    "gradient_penalty",
    "keypoint_reprojection_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "mesh_reprojection_loss",
    "mesh_reprojection_loss_dense",
    "mesh_reprojection_loss_per_sample",
    "wgan_generator_loss",
    "wgan_gp_critic_loss",
]
