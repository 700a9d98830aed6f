"""The run's precision: fp32 as configured, bf16 mixed precision where asked or where "auto"
finds it native and faster; autocast really on for the encoder, the losses in float32."""

from __future__ import annotations

import pytest
import torch
from tiny_runs import tiny_run_config

import hybridlib.losses.adversarial as adversarial
import hybridlib.precision as precision_module
import hybridlib.training.generator_step as generator_step
from hybridlib.evaluation.evaluate import load_trained
from hybridlib.models.forward import predict
from hybridlib.precision import AUTO_MIN_SPEEDUP, FP32, PrecisionChoice, inference_precision, resolve_precision
from hybridlib.training import TrainConfig, load_checkpoint, train

CPU = torch.device("cpu")


def _timings(fp32: float, bf16: float, bf16_channels_last: float) -> dict[str, float]:
    return {
        "fp32": fp32,
        "fp32 channels_last": fp32 * 1.1,
        "bf16-mixed": bf16,
        "bf16-mixed channels_last": bf16_channels_last,
    }


def test_fp32_is_the_contiguous_float32_baseline_without_a_probe(monkeypatch):
    monkeypatch.setattr(precision_module, "_probe", lambda *arguments: pytest.fail("fp32 must not probe"))
    choice = resolve_precision("fp32", CPU, "resnet18", 64, 4)
    assert (choice.precision, choice.channels_last) == ("fp32", False)
    with choice.autocast(CPU):
        assert not torch.is_autocast_enabled("cpu")


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", CPU, "resnet18", 64, 4)
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(data_root=".", out_dir=".", precision="half")


def test_auto_on_a_cpu_without_bf16_units_is_fp32_and_says_why(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_bf16_flags", lambda: [])
    choice = resolve_precision("auto", CPU, "resnet18", 64, 4)
    assert choice.precision == "fp32" and "neither AMX-BF16 nor AVX512-BF16" in choice.reason


@pytest.mark.parametrize(
    ("speedup", "expected"), [(AUTO_MIN_SPEEDUP + 0.2, "bf16-mixed"), (AUTO_MIN_SPEEDUP - 0.1, "fp32")]
)
def test_auto_on_a_bf16_cpu_takes_bf16_only_when_the_probe_finds_it_faster(monkeypatch, speedup, expected):
    monkeypatch.setattr(precision_module, "cpu_bf16_flags", lambda: ["avx512_bf16"])
    monkeypatch.setattr(precision_module, "_probe", lambda *arguments: _timings(100.0, 100.0 / speedup, 200.0))
    choice = resolve_precision("auto", CPU, "resnet50", 224, 8)
    assert choice.precision == expected and f"{speedup:.2f}x" in choice.reason and "avx512_bf16" in choice.reason
    assert choice.channels_last is False  # channels_last was slower in bf16 here


def test_channels_last_is_taken_in_bf16_where_the_probe_finds_it_faster(monkeypatch):
    monkeypatch.setattr(precision_module, "_probe", lambda *arguments: _timings(100.0, 60.0, 45.0))
    choice = resolve_precision("bf16-mixed", CPU, "resnet50", 224, 8)
    assert choice == PrecisionChoice("bf16-mixed", True, choice.reason)


def test_the_probe_times_every_variant_and_leaves_the_random_state_alone():
    precision_module._probe.cache_clear()
    before = torch.get_rng_state()
    timings = precision_module._probe("resnet18", 32, 2, "cpu")
    assert torch.equal(torch.get_rng_state(), before)
    assert set(timings) == {"fp32", "fp32 channels_last", "bf16-mixed", "bf16-mixed channels_last"}
    assert all(milliseconds > 0 for milliseconds in timings.values())


def test_a_bf16_step_runs_the_networks_in_bf16_and_every_loss_in_float32(generated_root, tmp_path, monkeypatch):
    convolution_dtypes, linear_dtypes, critic_dtypes, loss_input_dtypes = set(), set(), set(), set()

    def record(module: torch.nn.Module, inputs: tuple, output: object) -> None:
        if isinstance(module, torch.nn.Conv2d):
            convolution_dtypes.add(output.dtype)
        elif isinstance(module, torch.nn.Linear):  # the regressor's and the critic's layers
            linear_dtypes.add(output.dtype)
        elif type(module).__name__ == "KCSCritic":
            critic_dtypes.add(output.dtype)

    def recording(loss):
        def wrapped(pred: torch.Tensor, *arguments: object) -> torch.Tensor:
            loss_input_dtypes.add(pred.dtype)
            value = loss(pred, *arguments)
            loss_input_dtypes.add(value.dtype)
            return value

        return wrapped

    def recording_critic_loss(loss):
        def wrapped(critic: torch.nn.Module, *arguments: object, **keywords: object) -> tuple:
            value, logs = loss(critic, *arguments, **keywords)
            loss_input_dtypes.add(value.dtype)
            return value, logs

        return wrapped

    monkeypatch.setattr(precision_module, "_probe", lambda *arguments: _timings(100.0, 60.0, 70.0))  # no probe convs
    for name in ("keypoint_reprojection_loss", "mesh_reprojection_loss"):
        monkeypatch.setattr(generator_step, name, recording(getattr(generator_step, name)))
    # adversarial_losses looks them up when a run starts
    monkeypatch.setattr(adversarial, "wgan_generator_loss", recording(adversarial.wgan_generator_loss))
    monkeypatch.setattr(adversarial, "wgan_gp_critic_loss", recording_critic_loss(adversarial.wgan_gp_critic_loss))
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        config = tiny_run_config(generated_root, tmp_path / "bf16", precision="bf16-mixed", max_steps=2, w_mr=0.001)
        result = train(config)
    finally:
        handle.remove()
    assert result.precision.precision == "bf16-mixed"
    assert convolution_dtypes == {torch.bfloat16}, "autocast is off: the encoder's convolutions ran in float32"
    assert linear_dtypes == {torch.bfloat16}, "autocast is off in the regressor or the critic"
    assert critic_dtypes == {torch.float32} and loss_input_dtypes == {torch.float32}
    assert load_checkpoint(config.checkpoint_path)["precision"] == result.precision.to_dict()


def test_checkpoints_written_before_precision_existed_still_load():
    legacy = {**TrainConfig(data_root=".", out_dir=".").to_dict(), "amp": True}
    del legacy["precision"]
    assert TrainConfig.from_dict(legacy).precision == "bf16-mixed"
    assert TrainConfig.from_dict({**legacy, "amp": False}).precision == "fp32"


def test_inference_runs_in_the_precision_the_run_trained_in_unless_told_otherwise():
    trained = PrecisionChoice("bf16-mixed", True, "bf16-mixed (auto: …)")
    assert inference_precision(trained.to_dict()) == trained
    assert inference_precision(None) == FP32  # checkpoints written before precision was saved
    assert inference_precision(trained.to_dict(), "fp32").precision == "fp32"
    asked = inference_precision(None, "bf16-mixed")
    assert (asked.precision, asked.channels_last) == ("bf16-mixed", False) and "asked" in asked.reason
    with pytest.raises(ValueError, match="precision must be one of"):
        inference_precision(None, "auto")


def test_a_bf16_checkpoint_predicts_in_bf16_and_in_fp32_when_asked(generated_root, tmp_path, monkeypatch):
    monkeypatch.setattr(precision_module, "_probe", lambda *arguments: _timings(100.0, 60.0, 70.0))
    config = tiny_run_config(generated_root, tmp_path / "bf16", precision="bf16-mixed", max_steps=1, w_mr=0.0)
    train(config)
    images, features = torch.randn(2, 3, config.image_size, config.image_size), []
    for requested, expected in ((None, torch.bfloat16), ("fp32", torch.float32)):
        networks, _, _ = load_trained(config.checkpoint_path, requested)
        handle = networks.model.encoder.register_forward_hook(lambda module, inputs, output: features.append(output))
        with torch.no_grad():
            prediction = predict(networks, images)
        handle.remove()
        assert features[-1].dtype == expected and prediction.keypoints_2d.dtype == torch.float32
