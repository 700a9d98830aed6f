"""python -m hybridlib.training: a JSON config file, ``--set`` overrides, and the errors it reports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_runs import tiny_run_config

from hybridlib.folder_lock import HOLDER_NAME
from hybridlib.training import load_checkpoint, read_loss_log
from hybridlib.training.__main__ import _parse_value, main


def _write_config(path: Path, root: Path, out_dir: Path, **changes: object) -> Path:
    """The tiny run (tests/tiny_runs.py) without critic or L_mr, as JSON."""
    config = tiny_run_config(root, out_dir, **{"critic": "none", "w_mr": 0.0, **changes})
    path.write_text(json.dumps(config.to_dict()))
    return path


def test_main_trains_the_configured_run(generated_root, tmp_path, capsys):
    out_dir = tmp_path / "run"
    config = _write_config(tmp_path / "run.json", generated_root, out_dir)
    main(["--config", str(config), "--set", "max_steps=1"])
    printed = capsys.readouterr().out
    assert "trained 1 steps" in printed
    assert str(out_dir / "checkpoint.pt") in printed and str(out_dir / "losses.csv") in printed
    saved = load_checkpoint(out_dir / "checkpoint.pt")["config"]
    assert saved["max_steps"] == 1 and saved["critic"] == "none" and saved["data_root"] == str(generated_root)


def test_set_values_are_read_as_json_or_else_as_bare_words(generated_root, tmp_path, capsys):
    out_dir = tmp_path / "run"
    # the file says otherwise: the saved config shows that the overrides won
    config = _write_config(tmp_path / "run.json", generated_root, out_dir, critic="with_rotation", epochs=2)
    overrides = ["critic=none", "epochs=5", "epochs=3", "max_steps=1"]  # the last --set of a field wins
    main(["--config", str(config), *(argument for value in overrides for argument in ("--set", value))])
    assert "trained 1 steps" in capsys.readouterr().out
    saved = load_checkpoint(out_dir / "checkpoint.pt")["config"]
    assert saved["critic"] == "none"
    assert saved["epochs"] == 3 and isinstance(saved["epochs"], int)
    assert saved["max_steps"] == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("1e-4", 1e-4), ("true", True), ("null", None), ('"none"', "none"), ("none", "none"), ("a=b", "a=b")],
)
def test_parse_value(text, value):
    parsed = _parse_value(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--set", "nonsense"], "--set expects KEY=VALUE, got 'nonsense'"),
        (["--set", "colour=red"], "unknown TrainConfig fields ['colour']"),
        (["--set", "critic=gan"], "critic must be one of"),
        (["--set", "batch_size=0"], "batch_size must be ≥ 1"),
        ([], "data_root"),  # neither a config file nor --set: the required fields are missing
    ],
    ids=["no-equals-sign", "unknown-field", "bad-critic", "bad-batch-size", "missing-fields"],
)
def test_bad_arguments_exit_with_code_2_and_name_the_problem(tmp_path, capsys, arguments, message):
    config = tmp_path / "run.json"
    if arguments:
        config.write_text(json.dumps({"data_root": str(tmp_path), "out_dir": str(tmp_path / "run")}))
        arguments = ["--config", str(config), *arguments]
    with pytest.raises(SystemExit) as raised:
        main(arguments)
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.startswith("usage: python -m hybridlib.training")
    assert not (tmp_path / "run").exists()  # nothing was trained


def test_a_second_process_training_into_the_same_folder_is_refused_and_the_first_is_untouched(generated_root, tmp_path):
    out_dir = tmp_path / "run"
    config = _write_config(tmp_path / "run.json", generated_root, out_dir, max_steps=60, epochs=100)
    command = [sys.executable, "-m", "hybridlib.training", "--config", str(config)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out_dir / HOLDER_NAME).is_file() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    _, first_errors = first.communicate(timeout=300)
    assert first.returncode == 0, first_errors[-2000:]
    assert second.returncode == 1 and f"is in use by process {first.pid}" in second.stderr
    assert str(out_dir) in second.stderr and "--wait" in second.stderr
    assert read_loss_log(out_dir / "losses.csv")["step"].tolist() == list(range(1, 61))  # each step once
    waited = subprocess.run([*command, "--wait"], capture_output=True, text=True, timeout=300)
    assert waited.returncode == 0 and "trained 60 steps" in waited.stdout  # the finished run, reused
