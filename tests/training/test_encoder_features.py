"""A frozen encoder's stored outputs: a run that reads them trains bit for bit as one that
computes them, and nothing is read where the encoder or the images differ."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tiny_runs import tiny_run_config

from hybridlib.models.encoder import Encoder
from hybridlib.precision import FP32, PrecisionChoice
from hybridlib.training import load_checkpoint, read_loss_log, train
from hybridlib.training.encoder_features import FILE_SUFFIX, EncoderFeatureStore, encoder_key


def _frozen(generated_root, out_dir, store=None, **changes):
    settings = {"freeze_encoder": True, "max_steps": 4, "critic": "without_rotation", "w_mr": 0.001}
    features = {"encoder_features_dir": None if store is None else str(store)}
    return tiny_run_config(generated_root, out_dir, **(settings | features | changes))


def _assert_same_training(result, reference):
    assert (
        read_loss_log(result.log_path)
        .drop(columns="seconds")
        .equals(read_loss_log(reference.log_path).drop(columns="seconds"))
    )
    trained, expected = load_checkpoint(result.checkpoint_path), load_checkpoint(reference.checkpoint_path)
    for part in ("model", "critic"):
        for name, value in expected[part].items():
            torch.testing.assert_close(trained[part][name], value, rtol=0, atol=0, msg=f"{part}.{name}")


def test_a_run_reading_stored_features_trains_as_one_computing_them(generated_root, tmp_path):
    store = tmp_path / "features"
    first = train(_frozen(generated_root, tmp_path / "first", store))  # computes and stores every batch
    assert (first.encoder_features.hits, first.encoder_features.misses) == (0, 4)
    assert len(list(store.glob(f"*/*{FILE_SUFFIX}"))) == 1

    encoder_calls = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: encoder_calls.append(1) if isinstance(module, Encoder) else None
    )
    try:  # another configuration on the same batches: the critic with rotation, no L_mr
        reading = train(_frozen(generated_root, tmp_path / "reading", store, critic="with_rotation", w_mr=0.0))
    finally:
        hook.remove()
    assert (reading.encoder_features.hits, reading.encoder_features.misses) == (4, 0) and encoder_calls == []
    computing = train(_frozen(generated_root, tmp_path / "computing", critic="with_rotation", w_mr=0.0))
    assert computing.encoder_features is None
    _assert_same_training(reading, computing)


def test_other_images_or_another_encoder_are_computed_not_read(generated_root, tmp_path):
    store = tmp_path / "features"
    train(_frozen(generated_root, tmp_path / "seed0", store))
    other_seed = train(_frozen(generated_root, tmp_path / "seed1", store, seed=1))  # other crops, other order
    assert other_seed.encoder_features.hits == 0
    other_size = train(_frozen(generated_root, tmp_path / "size", store, image_size=32))
    assert other_size.encoder_features.hits == 0


def test_the_key_names_the_weights_the_statistics_and_the_precision():
    torch.manual_seed(0)
    encoder = Encoder("resnet18", pretrained=False)
    device = torch.device("cpu")
    key = encoder_key(encoder, FP32, device)
    assert key == encoder_key(encoder, FP32, device)
    assert key != encoder_key(encoder, PrecisionChoice("bf16-mixed", False, "test"), device)
    assert key != encoder_key(encoder, PrecisionChoice("fp32", True, "test"), device)
    statistics = next(module for module in encoder.modules() if isinstance(module, torch.nn.BatchNorm2d))
    statistics.running_mean[0] += 1e-3
    assert key != encoder_key(encoder, FP32, device)


def test_an_interrupted_run_keeps_what_it_computed(generated_root, tmp_path):
    store = tmp_path / "features"
    config = _frozen(generated_root, tmp_path / "run", store)
    train(replace(config, max_steps=2))  # its last checkpoint writes the two batches
    resumed = train(config)
    assert (resumed.encoder_features.hits, resumed.encoder_features.misses) == (0, 2)
    again = EncoderFeatureStore(store, resumed.networks.model.encoder, resumed.precision, torch.device("cpu"))
    assert len(again.known) == 4


def test_an_unreadable_file_is_skipped_with_a_warning_naming_it(tmp_path):
    encoder = Encoder("resnet18", pretrained=False)
    store = EncoderFeatureStore(tmp_path, encoder, FP32, torch.device("cpu"))
    images = torch.rand(2, 3, 32, 32)
    store.features(images, lambda: encoder.eval()(images))
    store.save()
    (store.folder / f"broken{FILE_SUFFIX}").write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match=r"broken\.features\.pt.*delete it"):
        again = EncoderFeatureStore(tmp_path, encoder, FP32, torch.device("cpu"))
    assert len(again.known) == 1
