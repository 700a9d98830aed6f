"""Networks: the image encoder, HMR's IEF regressor, the KCS critic and HMR's discriminator."""

from hybridlib.models.critic import BodyForCritic, HMRDiscriminator, KCSCritic, body_for_critic, build_critic
from hybridlib.models.encoder import Encoder
from hybridlib.models.regressor import IterativeRegressor, MeshRegressor, mean_theta

__all__ = [
    "BodyForCritic",
    "Encoder",
    "HMRDiscriminator",
    "IterativeRegressor",
    "KCSCritic",
    "MeshRegressor",
    "body_for_critic",
    "build_critic",
    "mean_theta",
]
