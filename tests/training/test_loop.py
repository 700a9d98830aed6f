"""The training loop: it learns, it resumes exactly, it stops cleanly on NaN."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
import torch
from tiny_runs import tiny_run_config

import hybridlib.training.batches as batches_module
import hybridlib.training.step as step_module
from hybridlib.models.encoder import Encoder
from hybridlib.training import TrainingDivergedError, load_checkpoint, read_loss_log, train
from hybridlib.training.loop import write_initial_checkpoint


def _rows(path):
    with open(path, newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def test_fifty_steps_on_eight_images_halve_the_keypoint_loss(generated_root, tmp_path):
    config = tiny_run_config(
        generated_root,
        tmp_path / "overfit",
        max_images=8,
        batch_size=8,
        epochs=50,
        augment=False,
        critic="none",
        w_mr=0.0,
    )
    result = train(config)
    assert result.steps == 50
    loss_kpr = read_loss_log(result.log_path)["loss_kpr"]
    assert loss_kpr[-5:].mean() < 0.5 * loss_kpr[:3].mean()


@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed"])
def test_a_resumed_run_reproduces_an_uninterrupted_one(generated_root, tmp_path, precision):
    config = tiny_run_config(
        generated_root, tmp_path / "straight", critic="with_rotation", w_mr=0.001, precision=precision
    )  # 20 images → 5 steps per epoch
    straight = train(config)
    assert straight.steps == 10
    interrupted = replace(config, out_dir=str(tmp_path / "resumed"))
    assert train(replace(interrupted, max_steps=7)).steps == 7  # stops mid-epoch
    resumed = train(interrupted)
    assert resumed.steps == 10
    assert _rows(straight.log_path) == _rows(resumed.log_path)
    for (name, expected), actual in zip(
        straight.networks.model.state_dict().items(), resumed.networks.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=name)
    state = load_checkpoint(resumed.checkpoint_path)  # weights_only=True inside
    assert state["step"] == 10 and state["config"]["critic"] == "with_rotation"


def test_hmr_baseline_trains_with_its_discriminator(generated_root, tmp_path):
    result = train(tiny_run_config(generated_root, tmp_path / "hmr", critic="hmr", w_mr=0.0, max_steps=2))
    log = read_loss_log(result.log_path)
    assert result.steps == 2 and (log["loss_critic"] > 0).all() and (log["loss_mr"] == 0).all()


def test_a_non_finite_loss_names_the_step_and_keeps_the_last_good_checkpoint(generated_root, tmp_path, monkeypatch):
    real_losses = step_module.generator_losses
    calls = {"count": 0}

    def losses_that_break(*arguments):
        calls["count"] += 1
        loss, logs, pred = real_losses(*arguments)
        if calls["count"] == 3:
            logs["loss_kpr"] = float("nan")
        return loss, logs, pred

    monkeypatch.setattr(step_module, "generator_losses", losses_that_break)
    config = tiny_run_config(generated_root, tmp_path / "nan", critic="none", checkpoint_every=1)
    with pytest.raises(TrainingDivergedError, match=r"step 2: loss_kpr = nan.*step 2\) is kept"):
        train(config)
    assert load_checkpoint(config.checkpoint_path)["step"] == 2


def test_a_nan_in_a_batch_stops_the_run_at_that_step(generated_root, tmp_path, monkeypatch):
    real_collate = batches_module.collate_samples
    batches = {"count": 0}

    def collate_with_a_nan(samples):
        batch = real_collate(samples)
        batches["count"] += 1
        if batches["count"] == 4:  # the fourth batch: step index 3
            batch.image[1, :, 5, 5] = float("nan")
        return batch

    monkeypatch.setattr(batches_module, "collate_samples", collate_with_a_nan)
    config = tiny_run_config(generated_root, tmp_path / "nan-batch", checkpoint_every=2)
    with pytest.raises(
        TrainingDivergedError, match=r"step 3: loss_\w+ = nan is not finite; training stopped.*step 2\) is kept"
    ):
        train(config)
    assert load_checkpoint(config.checkpoint_path)["step"] == 2


def test_a_diverging_learning_rate_stops_with_the_step_and_the_loss(generated_root, tmp_path):
    config = tiny_run_config(
        generated_root, tmp_path / "diverging", critic="with_rotation", lr_generator=1e6, max_steps=40
    )
    with pytest.raises(
        TrainingDivergedError, match=r"step \d+: loss_\w+ = (nan|inf|-inf) is not finite.*Lower the learning rates"
    ):
        train(config)


def test_a_compiled_encoder_trains_as_the_eager_one(generated_root, tmp_path):
    eager = tiny_run_config(generated_root, tmp_path / "eager", critic="none", w_mr=0.0, max_steps=2)
    compiled = replace(eager, out_dir=str(tmp_path / "compiled"), compile=True)
    result = train(compiled)  # inductor: about a minute of compiling on 2 cores
    assert result.networks.model.encoder._compiled_call_impl is not None
    assert set(load_checkpoint(result.checkpoint_path)["model"]) == set(train(eager).networks.model.state_dict())
    torch.testing.assert_close(
        torch.tensor(read_loss_log(compiled.log_path)["loss_kpr"].to_numpy()),
        torch.tensor(read_loss_log(eager.log_path)["loss_kpr"].to_numpy()),
        rtol=1e-4,
        atol=0.0,
    )


def test_a_frozen_encoder_stays_as_loaded_and_runs_without_gradient(generated_root, tmp_path):
    config = tiny_run_config(
        generated_root, tmp_path / "frozen", critic="with_rotation", w_mr=0.001, max_steps=3, freeze_encoder=True
    )
    start = {name: value.clone() for name, value in load_checkpoint(write_initial_checkpoint(config))["model"].items()}
    encoder_calls = []  # (training mode, output tracked by autograd) of every encoder forward
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: (
            encoder_calls.append((module.training, output.requires_grad)) if isinstance(module, Encoder) else None
        )
    )
    try:
        result = train(config)
    finally:
        hook.remove()
    assert result.steps == 3 and encoder_calls == [(False, False)] * 3  # eval mode, no graph through it
    trained = load_checkpoint(result.checkpoint_path)
    encoder = [name for name in start if name.startswith("encoder.")]
    assert any("running_mean" in name for name in encoder)  # BatchNorm statistics are compared too
    for name in encoder:
        torch.testing.assert_close(trained["model"][name], start[name], rtol=0, atol=0, msg=name)
    assert any(not torch.equal(trained["model"][name], start[name]) for name in start if name.startswith("regressor."))
    optimised = len(trained["optimizer_generator"]["param_groups"][0]["params"])
    names = [name for name, _ in result.networks.model.named_parameters()]
    assert optimised == len([name for name in names if not name.startswith("encoder.")]) < len(names)
