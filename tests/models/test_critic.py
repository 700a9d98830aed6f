"""The critics: the KCS algebra, KCSCritic's streams and HMR's discriminator."""

from __future__ import annotations

import pytest
import torch

from hybridlib.body_model import BodyModel
from hybridlib.models import HMRDiscriminator, KCSCritic, body_for_critic, build_critic
from hybridlib.models.critic import bone_incidence_matrix, kcs_matrix
from hybridlib.skeleton import LSP_BONES


def test_kcs_matrix_is_bone_gram_matrix_and_symmetric():
    incidence = bone_incidence_matrix()
    assert incidence.shape == (14, 13) and (incidence.sum(dim=0) == 0).all()
    joints = torch.randn(5, 14, 3)
    kcs = kcs_matrix(joints, incidence)
    bones = torch.stack([joints[:, end] - joints[:, start] for start, end in LSP_BONES], dim=2)  # (B,3,13)
    torch.testing.assert_close(kcs, bones.transpose(1, 2) @ bones)
    torch.testing.assert_close(kcs, kcs.transpose(1, 2))
    torch.testing.assert_close(torch.diagonal(kcs, dim1=1, dim2=2), bones.pow(2).sum(dim=1))  # squared bone lengths
    rotation = torch.linalg.qr(torch.randn(3, 3)).Q
    torch.testing.assert_close(kcs_matrix(joints @ rotation.T, incidence), kcs, atol=1e-4, rtol=1e-4)


def test_critics_score_every_stream_and_see_bodies_without_global_rotation():
    body_model = BodyModel()
    pose = torch.zeros(3, 69)
    global_orient = torch.tensor([[0.0, 0.0, 0.0], [3.14159, 0.0, 0.0], [0.3, 1.2, -0.4]])
    output = body_model(global_orient, pose, torch.zeros(3, 10))
    body = body_for_critic(output, torch.zeros(3, 10))
    torch.testing.assert_close(body.joints[1], body.joints[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(body.joints[2], body.joints[0], atol=1e-5, rtol=0)
    assert KCSCritic(with_rotation=True)(body).shape == (3, 3)
    assert KCSCritic(with_rotation=False)(body).shape == (3, 2)
    assert HMRDiscriminator()(body).shape == (3, 25)
    assert build_critic("none") is None and isinstance(build_critic("hmr"), HMRDiscriminator)
    with pytest.raises(ValueError, match="critic must be"):
        build_critic("gan")
