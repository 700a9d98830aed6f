"""Networks: the image encoder, HMR's IEF regressor, the KCS critic and HMR's discriminator, and
the forward pass from images to posed, projected bodies (:mod:`hybridlib.models.forward`)."""

from hybridlib.models.critic import BodyForCritic, HMRDiscriminator, KCSCritic, body_for_critic, build_critic
from hybridlib.models.encoder import Encoder
from hybridlib.models.forward import (
    NetworkConfig,
    Networks,
    Prediction,
    build_networks,
    predict,
    predict_body,
    resolve_device,
)
from hybridlib.models.regressor import IterativeRegressor, MeshRegressor, mean_theta

__all__ = [
    "BodyForCritic",
    "Encoder",
    "HMRDiscriminator",
    "IterativeRegressor",
    "KCSCritic",
    "MeshRegressor",
    "NetworkConfig",
    "Networks",
    "Prediction",
    "body_for_critic",
    "build_critic",
    "build_networks",
    "mean_theta",
    "predict",
    "predict_body",
    "resolve_device",
]
