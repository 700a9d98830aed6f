"""The critic's real bodies: drawn from a MoSh folder, posed as the critic sees them, the same
global draw on every process, reproducible from the seed."""

from __future__ import annotations

import pytest
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.data.folders import MOSH_FOLDER
from hybridlib.data.mocap import read_mocap_folder
from hybridlib.data.real_bodies import RealBodySampler
from hybridlib.models.critic import body_for_critic

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def body_model() -> BodyModel:
    return BodyModel(OPEN_BODY_MODEL_LITE)


@pytest.fixture(scope="module")
def mosh(generated_root):
    return generated_root / MOSH_FOLDER


def _assert_same_bodies(actual, expected) -> None:
    for name in ("joints", "rotations", "betas"):
        torch.testing.assert_close(getattr(actual, name), getattr(expected, name), rtol=0, atol=0)


def test_samples_are_posed_bodies_of_the_set_and_mix_weights_in_the_unit_interval(mosh, body_model):
    sampler = RealBodySampler(mosh, body_model, seed=3)
    mocap = read_mocap_folder(mosh)
    assert sampler.poses.shape == (len(mocap), 72) and sampler.betas.shape == (len(mocap), 10)
    bodies, mix = sampler.sample(6, CPU)
    assert bodies.joints.shape == (6, 14, 3) and bodies.rotations.shape == (6, 23, 3, 3)
    assert bodies.betas.shape == (6, 10) and mix.shape == (6,)
    assert ((mix >= 0) & (mix <= 1)).all()
    # the draw: indices into the set, then the mix weights, from one generator seeded once
    index = torch.randint(len(mocap), (6,), generator=torch.Generator().manual_seed(3))
    poses, betas = torch.from_numpy(mocap.poses)[index], torch.from_numpy(mocap.betas)[index]
    with torch.no_grad():
        expected = body_for_critic(body_model(poses[:, :3], poses[:, 3:], betas, with_vertices=False), betas)
    _assert_same_bodies(bodies, expected)
    assert not bodies.joints.requires_grad  # real bodies carry no graph


def test_the_same_seed_gives_the_same_samples(mosh, body_model):
    first, second = RealBodySampler(mosh, body_model, seed=5), RealBodySampler(mosh, body_model, seed=5)
    for _ in range(2):
        (bodies_a, mix_a), (bodies_b, mix_b) = first.sample(4, CPU), second.sample(4, CPU)
        _assert_same_bodies(bodies_a, bodies_b)
        assert torch.equal(mix_a, mix_b)
    other, _ = RealBodySampler(mosh, body_model, seed=6).sample(4, CPU)
    assert not torch.equal(other.betas, first.sample(4, CPU)[0].betas)
    assert not torch.equal(first.sample(4, CPU)[1], first.sample(4, CPU)[1])  # the generator moves on


def test_the_ranks_of_two_processes_share_one_global_draw(mosh, body_model):
    whole_bodies, whole_mix = RealBodySampler(mosh, body_model, seed=1).sample(8, CPU)
    ranks = [RealBodySampler(mosh, body_model, seed=1).sample(8, CPU, rank=rank, world_size=2) for rank in (0, 1)]
    for rank, (bodies, mix) in enumerate(ranks):
        assert bodies.joints.shape == (4, 14, 3) and mix.shape == (4,)
        # rank r takes every other body of the global draw, from r (index[rank::world_size])
        for name in ("joints", "rotations", "betas"):
            torch.testing.assert_close(getattr(bodies, name), getattr(whole_bodies, name)[rank::2], rtol=0, atol=0)
        assert torch.equal(mix, whole_mix[rank::2])
    interleaved = torch.stack([ranks[0][1], ranks[1][1]], dim=1).reshape(8)
    assert torch.equal(interleaved, whole_mix)  # together, the ranks' slices are the global draw


def test_mean_body_pose_and_betas_are_the_means_of_the_set(mosh, body_model):
    sampler = RealBodySampler(mosh, body_model, seed=0)
    mean_body_pose, mean_betas = sampler.mean_body_pose_and_betas()
    assert mean_body_pose.shape == (69,) and mean_betas.shape == (10,)
    mocap = read_mocap_folder(mosh)
    torch.testing.assert_close(mean_body_pose, torch.from_numpy(mocap.poses[:, 3:].mean(axis=0)))
    torch.testing.assert_close(mean_betas, torch.from_numpy(mocap.betas.mean(axis=0)))
