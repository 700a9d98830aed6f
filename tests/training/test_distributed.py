"""Two CPU processes under torchrun (gloo) give the result of one process with the same global batch."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace

import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE
from hybridlib.training import TrainConfig, load_checkpoint, read_loss_log, train


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_gloo_processes_match_one_process(generated_root, tmp_path):
    # Dropout off and BatchNorm statistics frozen: both would otherwise draw per process.
    config = TrainConfig(
        data_root=str(generated_root), out_dir=str(tmp_path / "single"), use_lspet=True, image_size=64,
        backbone="resnet18", pretrained=False, body_model=str(OPEN_BODY_MODEL_LITE), batch_size=4, max_steps=3,
        critic="with_rotation", dropout=0.0, freeze_batchnorm=True, progress=False,
    )  # fmt: skip
    single = train(config)
    distributed = replace(config, out_dir=str(tmp_path / "ddp"))
    config_file = tmp_path / "ddp.json"
    config_file.write_text(json.dumps(distributed.to_dict()))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "hybridlib.training",
        "--config",
        str(config_file),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "trained 3 steps" in completed.stdout

    single_log, ddp_log = read_loss_log(single.log_path), read_loss_log(distributed.log_path)
    for column in ("loss_kpr", "loss_mr", "loss_adversarial", "loss_critic"):
        torch.testing.assert_close(
            torch.tensor(ddp_log[column].to_numpy()),
            torch.tensor(single_log[column].to_numpy()),
            rtol=1e-4,
            atol=1e-5,
            msg=column,
        )
    single_state, ddp_state = (
        load_checkpoint(single.checkpoint_path)["model"],
        load_checkpoint(distributed.checkpoint_path)["model"],
    )
    # Adam divides by the gradient's running magnitude, so a weight whose gradient is ~0 (its
    # sign set by float rounding, which differs between one and two processes) may move by up
    # to lr per step either way; every other weight must agree closely.
    adam_bound = 2 * config.lr_generator * config.max_steps
    for name, expected in single_state.items():
        if expected.is_floating_point() and expected.numel():
            difference = (ddp_state[name] - expected).abs()
            assert difference.max() <= adam_bound, name
            assert difference.mean() <= 1e-5, name
