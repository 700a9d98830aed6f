"""Nothing lost: a training killed with SIGKILL (also in the middle of writing its checkpoint)
resumes to the same weights and losses as an uninterrupted run; a full disk fails with the file
named and the previous checkpoint and tables intact; a re-run study reuses its finished runs;
degenerate inputs (empty silhouettes, zero-scale cameras) give finite losses and gradients."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import papermill
import torch

from hybridlib.body_model import OPEN_BODY_MODEL_LITE
from hybridlib.evaluation.report import write_table
from hybridlib.losses import mesh_reprojection_loss, mesh_reprojection_loss_dense
from hybridlib.losses.adversarial import gradient_penalty
from hybridlib.models.critic import BodyForCritic, KCSCritic
from hybridlib.paths import REPOSITORY_ROOT, runs_root
from hybridlib.studies import resolve_settings
from hybridlib.studies.runner import ensure_data
from hybridlib.training import TrainConfig, read_loss_log
from hybridlib.training.checkpoint import load_checkpoint, save_checkpoint

STEPS, CHECKPOINT_EVERY = 14, 3


def _config(data_root: Path, out_dir: Path) -> TrainConfig:
    return TrainConfig(
        data_root=str(data_root), out_dir=str(out_dir), backbone="resnet18", image_size=64, batch_size=4,
        pretrained=False, body_model=str(OPEN_BODY_MODEL_LITE), critic="with_rotation", max_steps=STEPS, epochs=100,
        checkpoint_every=CHECKPOINT_EVERY, seed=5, progress=False,
    )  # fmt: skip


def _start(config: TrainConfig, tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / f"{Path(config.out_dir).name}.json"
    path.write_text(json.dumps(config.to_dict()))
    return subprocess.Popen(
        [sys.executable, "-m", "hybridlib.training", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen, timeout: float = 300) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr.decode()[-2000:]


def _last_logged_step(log_path: Path) -> int:
    if not log_path.is_file():
        return -1
    lines = [line for line in log_path.read_text().splitlines()[1:] if line.split(",")[0].isdigit()]
    return int(lines[-1].split(",")[0]) if lines else -1


def test_a_run_killed_while_writing_its_checkpoint_resumes_to_the_uninterrupted_result(
    generated_root: Path, tmp_path: Path
):
    reference = _config(generated_root, tmp_path / "uninterrupted")
    interrupted = _config(generated_root, tmp_path / "interrupted")
    _finish(_start(reference, tmp_path))

    process = _start(interrupted, tmp_path)
    run_dir = Path(interrupted.checkpoint_path).parent
    deadline, writes_begun, writing = time.monotonic() + 240, 0, False
    while process.poll() is None and time.monotonic() < deadline:
        # a checkpoint is being written right now
        writing, was_writing = any(run_dir.glob(".checkpoint.pt.*.tmp")), writing
        writes_begun += writing and not was_writing
        if writing and writes_begun == 2:  # inside the second write: the first checkpoint must survive it
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-write"
    killed_at = _last_logged_step(Path(interrupted.log_path))

    on_disk = load_checkpoint(interrupted.checkpoint_path)  # (a) the newest checkpoint always loads
    resumed_from = int(on_disk["step"])
    assert (
        resumed_from >= CHECKPOINT_EVERY and killed_at - resumed_from <= CHECKPOINT_EVERY
    )  # (b) at most one interval redone

    _finish(_start(interrupted, tmp_path))
    final, expected = (
        load_checkpoint(interrupted.checkpoint_path),
        load_checkpoint(reference.checkpoint_path),
    )  # (c) same weights, same losses
    assert int(final["step"]) == int(expected["step"]) == STEPS
    for part in ("model", "critic"):
        for key, value in expected[part].items():
            assert torch.equal(final[part][key], value), f"{part}.{key} differs after the resume"
    losses = [
        pd.DataFrame(read_loss_log(config.log_path)).drop(columns="seconds") for config in (interrupted, reference)
    ]  # wall time differs, nothing else may
    pd.testing.assert_frame_equal(*losses)
    assert not any(run_dir.glob(".checkpoint.pt.*.tmp"))  # the killed writer's, removed by the resume


DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    import pandas as pd, torch
    from hybridlib.evaluation.report import write_table
    from hybridlib.training.checkpoint import save_checkpoint
    # a write past the limit fails with EFBIG, as a full disk fails with ENOSPC
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    folder = sys.argv[1]
    for name, write in (
        (
            "checkpoint",
            lambda: save_checkpoint(f"{folder}/checkpoint.pt", {"model": {"weight": torch.ones(1_000_000)}, "step": 2}),
        ),
        ("table", lambda: write_table(pd.DataFrame({"kpr_loss": range(100_000)}), folder)),
    ):
        try:
            write()
            print(name, "WRITTEN")
        except OSError as error:
            print(name, "REFUSED", error)
    """
)


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint_and_table(tmp_path: Path):
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": {"weight": torch.zeros(3)}, "step": 1})
    write_table(pd.DataFrame({"kpr_loss": [1.5]}), tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert (
        lines["checkpoint"].startswith("REFUSED could not write checkpoint")
        and "the previous checkpoint is intact" in lines["checkpoint"]
        and "Free disk space" in lines["checkpoint"]
    )
    assert lines["table"].startswith("REFUSED could not write table") and "table.csv" in lines["table"]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 1
    assert (
        pd.read_csv(tmp_path / "table.csv")["kpr_loss"].tolist() == [1.5]
        and "1.5" in (tmp_path / "table.md").read_text()
    )
    assert not list(tmp_path.glob("*.tmp"))


def test_a_study_run_again_with_the_same_out_dir_reuses_its_finished_runs(tmp_path: Path, monkeypatch):
    out_dir = tmp_path / "table2"
    data_dir = ensure_data(resolve_settings("03_lspet_vs_hmr", PRESET="smoke", OUT_DIR=str(out_dir)), progress=False)
    monkeypatch.setenv("HYBRIDLIB_HOME", str(tmp_path / "home"))  # this test's own runs/, whatever the checkout holds

    def run() -> None:
        papermill.execute_notebook(
            str(REPOSITORY_ROOT / "notebooks" / "03_lspet_vs_hmr.ipynb"), str(tmp_path / "executed.ipynb"),
            parameters={"PRESET": "smoke", "DATA_DIR": str(data_dir), "OUT_DIR": str(out_dir), "SEEDS": [21]},
            progress_bar=False, cwd=str(REPOSITORY_ROOT / "notebooks"),
        )  # fmt: skip

    run()
    every_checkpoint = sorted((runs_root() / "03_lspet_vs_hmr" / "smoke").glob("*/checkpoint.pt"))
    checkpoints = [path for path in every_checkpoint if load_checkpoint(path)["config"]["seed"] == 21]
    assert len(checkpoints) == 3  # KPR only, combined, HMR baseline
    written = {path: path.stat().st_mtime_ns for path in checkpoints}
    first_table = (out_dir / "table.csv").read_text()
    run()
    assert {path: path.stat().st_mtime_ns for path in checkpoints} == written, (
        "a finished configuration was trained again"
    )
    assert (out_dir / "table.csv").read_text() == first_table
    # evaluated again (its cached evaluation gone), a finished run keeps its training time
    trained_for = json.loads((out_dir / "provenance.json").read_text())["train_seconds_all_configurations"]
    for checkpoint in checkpoints:
        (checkpoint.parent / "evaluation.json").unlink()
    run()
    assert json.loads((out_dir / "provenance.json").read_text())["train_seconds_all_configurations"] == trained_for


def test_empty_silhouettes_and_zero_scale_cameras_give_finite_losses_and_gradients():
    points = torch.full((2, 40, 2), 30.0, requires_grad=True)  # a zero-scale camera: every vertex on one pixel
    silhouettes = torch.zeros(2, 64, 64, dtype=torch.bool)
    silhouettes[1, 20:40, 10:30] = True  # sample 0 is flagged as having a silhouette, but it is empty
    has_silhouette = torch.tensor([True, True])
    for loss_function in (mesh_reprojection_loss, mesh_reprojection_loss_dense):
        points.grad = None
        value = loss_function(points, silhouettes, has_silhouette)
        value.backward()
        assert torch.isfinite(value) and value > 0 and torch.isfinite(points.grad).all()
    assert torch.isclose(
        mesh_reprojection_loss(points, silhouettes, has_silhouette),
        mesh_reprojection_loss_dense(points, silhouettes, has_silhouette),
        rtol=1e-4,
    )


def test_the_gradient_penalty_is_finite_where_the_critic_is_flat():
    critic = KCSCritic()
    for parameter in critic.parameters():
        torch.nn.init.zeros_(parameter)  # zero gradient w.r.t. every input: ‖∇D‖ = 0
    body = BodyForCritic(
        joints=torch.zeros(4, 14, 3), rotations=torch.eye(3).expand(4, 23, 3, 3).clone(), betas=torch.zeros(4, 10)
    )
    penalty = gradient_penalty(critic, body)
    penalty.backward()
    assert torch.isfinite(penalty) and all(
        torch.isfinite(parameter.grad).all() for parameter in critic.parameters() if parameter.grad is not None
    )
