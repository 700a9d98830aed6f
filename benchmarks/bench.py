"""``make bench``: every benchmark of issue "Performance", side by side in one run.

    .venv/bin/python -m benchmarks.bench [--repeats 5] [--quick]

Prints one table of ratios with their bars (and the absolute times they came from), then the
scaling tables, and writes them to ``results/benchmarks/<machine>.csv`` (``<machine>-scaling.csv``;
``results/`` of the workspace folder, :mod:`hybridlib.paths`).
Absolute times drift on shared machines; the ratios, measured in the same process a few seconds
apart, are the figures to compare. Data: the ``demo`` preset's generated set (generated on
first use, ~30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from benchmarks.body_model_and_rendering import body_model_cases
from benchmarks.data_generation_and_loading import generator_rate, loader_rate
from benchmarks.timing import median_seconds
from benchmarks.training_step import (
    mesh_loss_times,
    mixed_precision_loss_difference,
    precision_step_times,
    step_parts,
    step_times,
)
from hybridlib.body_model import OPEN_BODY_MODEL, OPEN_BODY_MODEL_LITE, BodyModel
from hybridlib.data import DataConfig, build_dataset, collate_samples
from hybridlib.geometry import normalized_to_pixels, weak_perspective_projection
from hybridlib.losses import mesh_reprojection_loss
from hybridlib.machine import cpu_flags, machine_description, machine_name
from hybridlib.models.forward import resolve_device
from hybridlib.paths import REPOSITORY_ROOT, results_root, shown
from hybridlib.precision import resolve_precision
from hybridlib.studies import PRESETS, resolve_settings
from hybridlib.studies.runner import RunSpec, ensure_data, train_config


def body_model_ms(repeats: int, batch_size: int = 8) -> float:
    """Full open body model forward+backward at batch 8 (pose and shape require grad)."""
    return (
        1e3
        * median_seconds(
            body_model_cases(BodyModel(OPEN_BODY_MODEL), batch_size)["forward+backward"], repeats=repeats, warmup=3
        )[0]
    )


def mesh_loss_by_vertex_count(data: Path, repeats: int) -> list[dict[str, object]]:
    """Fast L_mr (value + gradient, batch 8, 224 px) for ~1k, ~7k and ~14k projected vertices."""
    dataset = build_dataset(DataConfig(root=data), "train")
    batch = collate_samples([dataset[index] for index in range(8)])
    rows = []
    for label, path, stride in (
        ("lite", OPEN_BODY_MODEL_LITE, 1),
        ("full, every 2nd vertex", OPEN_BODY_MODEL, 2),
        ("full", OPEN_BODY_MODEL, 1),
    ):
        with torch.no_grad():
            vertices = BodyModel(path)(batch.pose[:, :3], batch.pose[:, 3:], batch.betas).vertices[:, ::stride]
        points = normalized_to_pixels(weak_perspective_projection(vertices, batch.camera), 224).requires_grad_(True)

        def fast(points: torch.Tensor = points) -> None:
            mesh_reprojection_loss(points, batch.silhouette, batch.has_silhouette, batch.silhouette_nearest).backward()

        rows.append(
            {
                "case": f"L_mr fast, {points.shape[1]} vertices ({label})",
                "batch": 8,
                "image_px": 224,
                "ms": round(1e3 * median_seconds(fast, repeats=repeats, warmup=3)[0], 1),
            }
        )
    return rows


def training_peak_rss_mb(data: Path, steps: int, precision: str) -> tuple[float, float]:
    """(peak resident MiB of the cpu preset's training process tree — main process and loader
    workers summed — and its seconds per step), from a subprocess running ``steps`` steps in
    ``precision``."""
    settings = resolve_settings("bench", PRESET="cpu")
    config = train_config(settings, RunSpec(label="combined", critic="with_rotation"), data, progress=False)
    with tempfile.TemporaryDirectory() as scratch:
        config = replace(config, out_dir=scratch, max_steps=steps, checkpoint_every=10**9, precision=precision)
        config_path = Path(scratch) / "run.json"
        config_path.write_text(json.dumps(config.to_dict()))
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "hybridlib.training", "--config", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss_bytes(process.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(
                f"the cpu-preset training benchmark failed (exit {process.returncode}); run it by hand: "
                f"python -m hybridlib.training --config {config_path}"
            )
    return peak / 2**20, seconds / steps


def _tree_rss_bytes(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc; 0 where unreadable)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s*(\d+) kB", status).group(1)) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, AttributeError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats, no ResNet-50 and no scaling grid (a smoke check of the harness)",
    )
    parser.add_argument(
        "--device", default="auto", help="where the training steps run: auto (CUDA when available), cpu, cuda, cuda:N"
    )
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    device = resolve_device(args.device)
    cpu = PRESETS["cpu"]
    data = ensure_data(resolve_settings("bench", PRESET="demo"))
    machine = machine_name(device)
    description = machine_description() + f"; training steps on {device}"
    print(f"machine {machine}: {description}; data {data}", flush=True)

    rows: list[dict[str, object]] = []

    def record(measure: str, value: float, bar: str, passed: bool | None, seen: str) -> None:
        rows.append(
            {
                "measure": measure,
                "value": float(f"{value:.4g}"),
                "bar": bar,
                "holds": "-" if passed is None else ("yes" if passed else "NO"),
                "absolute times seen": seen,
            }
        )
        print(f"  {measure}: {value:.3f} ({seen})", flush=True)

    body_ms = body_model_ms(repeats)
    configurations = [(cpu.backbone, cpu.image_size, 1.3)] + ([] if args.quick else [("resnet50", 224, 1.15)])
    step_ms: dict[tuple[str, int], float] = {}
    for backbone, image_size, bar in configurations:
        encoder_seconds, step_seconds = step_times(
            data, backbone, image_size, repeats if args.quick else max(repeats, 9), device=device
        )  # the headline ratios: more alternations against a noisy machine
        step_ms[backbone, image_size] = 1000 * step_seconds
        record(
            f"train step / bare encoder fwd+bwd, {backbone} {image_size} px, batch 8",
            step_seconds / encoder_seconds, f"<= {bar}", step_seconds / encoder_seconds <= bar,
            f"step {1000 * step_seconds:.0f} ms, encoder {1000 * encoder_seconds:.0f} ms",
        )  # fmt: skip
        record(
            f"body model fwd+bwd (full, batch 8) / train step, {backbone} {image_size} px",
            body_ms / (1000 * step_seconds),
            "report",
            None,
            f"body model {body_ms:.1f} ms",
        )
    amx = "amx_bf16" in cpu_flags() and device.type == "cpu"
    peak_cuda_mib: dict[str, float] = {}
    for backbone, image_size, _ in configurations:
        precision_times = precision_step_times(
            data, backbone, image_size, repeats if args.quick else max(repeats, 9), device=device
        )  # headline ratios too: as many alternations as step / encoder above
        fp32_encoder, fp32_step, _, peak_cuda_mib["fp32"] = precision_times["fp32"]
        bf16_encoder, bf16_step, bf16, peak_cuda_mib["bf16-mixed"] = precision_times["bf16-mixed"]
        label = "bf16-mixed" + (" + channels_last" if bf16.channels_last else "")
        paper_size = (backbone, image_size) == ("resnet50", 224)
        speed_bar = ">= 2.0 (AMX)" if paper_size and amx else "report (bar: AMX CPUs)" if paper_size else "report"
        record(
            f"train step fp32 eager / {label}, {backbone} {image_size} px, batch 8",
            fp32_step / bf16_step, speed_bar, fp32_step / bf16_step >= 2.0 if paper_size and amx else None,
            f"fp32 step {1000 * fp32_step:.0f} ms, {label} step {1000 * bf16_step:.0f} ms",
        )  # fmt: skip
        record(
            f"train step / bare encoder fwd+bwd, {label}, {backbone} {image_size} px, batch 8",
            bf16_step / bf16_encoder, "<= 1.10" if paper_size else "report",
            bf16_step / bf16_encoder <= 1.10 if paper_size else None,
            f"step {1000 * bf16_step:.0f} ms, encoder {1000 * bf16_encoder:.0f} ms "
            f"(fp32: {fp32_step / fp32_encoder:.3f})",
        )  # fmt: skip
    auto = resolve_precision("auto", device, cpu.backbone, cpu.image_size, cpu.batch_size)
    print(f"  precision 'auto' at the cpu preset on {device}: {auto.reason}", flush=True)
    amp_backbone, amp_image_size = configurations[-1][:2]
    amp_difference = mixed_precision_loss_difference(data, amp_backbone, amp_image_size, device)
    record(
        "losses under bf16 autocast / float32, max |ratio - 1| of L_kpr, L_mr, L_adv, "
        f"{amp_backbone} {amp_image_size} px",
        amp_difference, "<= 0.01", amp_difference <= 0.01,
        f"{device.type} autocast",
    )  # fmt: skip
    fast_seconds, dense_seconds, difference = mesh_loss_times(data, repeats)
    record(
        "L_mr dense / fast, batch 8, 224 px, full body model",
        dense_seconds / fast_seconds,
        ">= 20",
        dense_seconds / fast_seconds >= 20,
        f"fast {1000 * fast_seconds:.0f} ms, dense {1000 * dense_seconds:.0f} ms",
    )
    record("L_mr |fast / dense - 1|", difference, "<= 0.01", difference <= 0.01, "same batch")
    for (backbone, image_size), milliseconds in step_ms.items():
        workers = cpu.num_workers
        samples_per_second = loader_rate(data, workers, batches=6 if args.quick else 20, image_size=image_size)
        consumed = 8 / (milliseconds / 1000)
        record(
            f"loader samples/s ({workers} worker{'s' if workers != 1 else ''}, augmented, {image_size} px) "
            f"/ train-step consumption, {backbone}",
            samples_per_second / consumed, ">= 3",
            samples_per_second / consumed >= 3, f"loader {samples_per_second:.0f}/s, step consumes {consumed:.1f}/s",
        )  # fmt: skip
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        images_per_second = generator_rate(Path(scratch), 24 if args.quick else 96)
    torch.set_num_threads(os.cpu_count() or 1)
    record(
        "generator images/s per core (224-500 px images, full body model)",
        images_per_second,
        ">= 20",
        images_per_second >= 20,
        f"{1000 / images_per_second:.1f} ms per image",
    )
    for precision, peak_mib in peak_cuda_mib.items():
        if device.type == "cuda":  # of the last configuration's steps (ResNet-50 224 px unless --quick)
            record(f"peak CUDA memory allocated by the train step, {precision} (MiB)", peak_mib, "report", None, "")
            continue
        peak_mb, seconds_per_step = training_peak_rss_mb(data, steps=10 if args.quick else 60, precision=precision)
        record(
            f"peak resident memory of cpu-preset training, {precision} (MiB, process tree)",
            peak_mb,
            "<= 4096",
            peak_mb <= 4096,
            f"{seconds_per_step:.2f} s per step incl. start-up",
        )

    table = pd.DataFrame(rows)
    results = results_root() / "benchmarks"  # <workspace>/results/benchmarks (hybridlib.paths)
    results.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    table.to_csv(results / f"{machine}{suffix}.csv", index=False)
    print("\n" + table.to_markdown(index=False))

    parts_columns = {}  # ms of each part of a step, per configuration and precision
    for backbone, image_size, _ in configurations:
        for precision in ("fp32", "bf16-mixed"):
            parts = step_parts(data, backbone, image_size, repeats, device=device, precision=precision)
            column = f"ms ({backbone}, {image_size} px, batch 8, {precision})"
            parts_columns[column] = {name: round(1000 * seconds, 1) for name, seconds in parts.items()}
    parts_table = pd.DataFrame(parts_columns).rename_axis("part of one step").reset_index()
    parts_table.to_csv(results / f"{machine}{suffix}-step-parts.csv", index=False)
    print("\n" + parts_table.to_markdown(index=False))

    scaling = mesh_loss_by_vertex_count(data, repeats)
    if not args.quick:
        for batch_size in (8, 16, 32):
            for image_size in (128, 224):
                encoder_seconds, step_seconds = step_times(
                    data, cpu.backbone, image_size, repeats, batch_size=batch_size, device=device
                )
                scaling.append(
                    {
                        "case": f"train step, {cpu.backbone}",
                        "batch": batch_size,
                        "image_px": image_size,
                        "ms": round(1000 * step_seconds, 1),
                        "step / encoder": round(step_seconds / encoder_seconds, 2),
                    }
                )
    scaling_table = pd.DataFrame(scaling)
    scaling_table.to_csv(results / f"{machine}{suffix}-scaling.csv", index=False)
    print("\n" + scaling_table.to_markdown(index=False))
    written = [
        results / f"{machine}{suffix}.csv",
        results / f"{machine}{suffix}-step-parts.csv",
        results / f"{machine}{suffix}-scaling.csv",
    ]
    if not args.quick and device.type == "cpu":  # a GPU run's figures stay in its CSVs
        PERFORMANCE_DOC.write_text(performance_doc(machine, description, table, parts_table, scaling_table))
        written.append(PERFORMANCE_DOC)
    print("\nwritten: " + ", ".join(shown(path) for path in written))


PERFORMANCE_DOC = REPOSITORY_ROOT / "docs" / "performance.md"


def performance_doc(
    machine: str, description: str, table: pd.DataFrame, parts: pd.DataFrame, scaling: pd.DataFrame
) -> str:
    """docs/performance.md: what the benchmarks measure, the last full run's tables, what was fixed."""
    return f"""# Performance

Written by `make bench` (`python -m benchmarks.bench`), which runs every benchmark side by side in
one process and prints ratios next to their bars; absolute times drift on shared machines, the
ratios measured a few seconds apart are the figures to compare. Raw tables:
`results/benchmarks/<machine>.csv`, `<machine>-step-parts.csv` and `<machine>-scaling.csv`, one
`<machine>` per CPU model, core count and widest vector unit (machines of one model differ: an
AMD EPYC with AVX2 only ran the step 2.6–2.7× slower than one with AVX-512 in their CSVs, and
emulates bf16), so every machine's last run stays beside the others; this page shows the last
full run.

- **train step / bare encoder**: one full training step (generator forward and backward with
  L_kpr + L_mr + the KCS critic's adversarial loss, Adam step, one WGAN-GP critic step) against
  the encoder's forward+backward alone on the same batch of 8, timed in alternation (medians
  of each). The encoder is the floor; the rest is hybridlib's overhead.
- **train step fp32 eager / bf16-mixed**: the same full step (`hybridlib.training.step`) in
  float32 with contiguous images (the peers' SPIN-style baseline) against bf16 mixed precision
  (`TrainConfig.precision`; channels_last where its probe found it faster), all four — encoder
  and step in each precision — timed in one alternation; the bar (≥ 2.0 at ResNet-50, 224 px)
  applies to CPUs with AMX-BF16, others report. Then step / bare encoder in bf16 (≤ 1.10 at
  ResNet-50, 224 px) and what `precision="auto"` chose here, and why (printed).
- **L_mr dense / fast**: the all-pairs reference against the fast path on the same batch (8
  generated samples, 224 px, the full 13,348-vertex open model), and their relative difference.
- **losses under bf16 autocast**: L_kpr, L_mr and the adversarial loss of one batch with the
  encoder, the IEF regressor and the critic under bfloat16 autocast (what
  `TrainConfig.precision="bf16-mixed"` does) against float32, same weights and dropout masks; on
  a machine without CUDA it runs CPU autocast.
- **loader / consumption**: DataLoader samples/s with the preset's workers and augmentation
  against the samples/s a training step consumes.
- **generator**: images/s on one core of `python -m hybridlib.data.generate`.
- **peak resident memory**: main process and loader workers summed, sampled every 0.1 s while
  the `cpu` preset trains for 60 steps, in each precision.

## Last full run: {machine}

{description}

{table.to_markdown(index=False)}

## Where a step goes (each part timed alone on the same batch, in each precision; the last row is
what the parts leave unexplained: the full step less their sum)

Each part here is timed in a run of its own, one call after another, where the headline ratios
above alternate the encoder and the step; the two ways disagree on a noisy machine (the full
step here can be slower than in the alternation above), so read the parts as where the time
goes, and the ratios above as what a step costs.

{parts.to_markdown(index=False)}

## How the cost grows

{scaling.to_markdown(index=False)}

## What was changed to reach these ratios

Measured with torch.profiler, line_profiler and timers around each phase of the `cpu` preset's
step (ResNet-18, 128 px), where the overhead over the encoder was largest. The parts table of
`make bench` before each round (the committed docs/performance.md of that commit):

| part of one step (ms)              | 46e2f44 | df44d35 |
|:-----------------------------------|--------:|--------:|
| IEF regressor fwd+bwd (3 stages)   |       - |     8.9 |
| body model + projection fwd+bwd    |    22.5 |    10.1 |
| L_mr fast, value + gradient        |    32.7 |    22.3 |
| Adam step (encoder + regressor)    |       - |     6.4 |
| critic step (real bodies, WGAN-GP) |       - |     4.9 |
| full training step                 |   241.1 |   225.9 |
| step / encoder (alternating)       |   1.615 |   1.380 |

First round (46e2f44 → df44d35):
- Body model: the pose blend shapes are skipped when the model has none (the open model's
  `posedirs` are all zero, and their matmul against 33 MB of zeros was half the cost); the rest
  joints come from the joint regressor applied once to the template and the shape directions.
  Values and gradients equal smplx's own forward (tests/body_model/test_body_model.py, with and without
  pose blend shapes). A skeleton-only forward (the 24 joints and the head-top vertex) serves
  the critic's real bodies and runs without L_mr.
- Adam: the fused kernel (one pass over all parameters; ~4x faster than the per-tensor loop
  on the CPU). Evaluation computes L_mr for a whole batch at once instead of image by image.

Second round (df44d35 → 713c400):
- L_mr: scipy's k-d trees (one built per sample over 13,348 projected vertices, then queried
  with every S_GT pixel) are replaced by an exact grid search compiled with numba
  (`hybridlib/losses/nearest_points.py`): the vertices sorted into pixel cells, an exact
  distance transform of the occupied cells, and for each S_GT pixel only the cells that can
  still hold a closer vertex. The kernel also computes the loss's gradient w.r.t. the vertices,
  so autograd only scales it. It holds no GIL: one sample per thread. Tests compare it with
  scipy's k-d tree on random sets (ties, far points, coarse cells) and with the dense gradient.
- Skinning: each vertex's blended transform is applied coordinate by coordinate over
  contiguous vertices instead of a batched matmul of B·n tiny 3×4 matrices (same values, test
  against smplx).
- IEF regressor: the three stages' forward and backward are written out, so each shared
  weight's gradient is one matrix product over the stacked stages rather than three summed by
  autograd (same values and dropout draws as the plain loop; undone in the third round).
- Gradient penalty: the KCS critic's streams read disjoint inputs (joints; β; rotations), so
  one gradient of the summed scores gives every stream's gradient, where three gradients and
  three double backwards were taken (equal to the per-stream form: tests/losses).

Third round (713c400 → f260baa), the other way: the hand-written gradients were measured
against plain autograd and removed where they bought less than 5 % of a `cpu`-preset step.
`python -m benchmarks.against_revision --revision 713c400 --rounds 7` (each part of the step at
both checkouts, in alternating fresh processes; medians, ms, ResNet-18 128 px batch 8, AMD EPYC
2 cores, avx512 and avx512_bf16, no AMX):

| part of one step (ms)              | 713c400 (hand-written) | f260baa (autograd) | difference | share of the step |
|:-----------------------------------|-----------------------:|-------------------:|-----------:|------------------:|
| IEF regressor fwd+bwd (3 stages)   |                    6.3 |                9.2 |       +2.9 |            +1.2 % |
| body model + projection fwd+bwd    |                    8.2 |                9.9 |       +1.7 |            +0.7 % |
| full training step                 |                  243.4 |              248.4 |       +5.0 |            +2.0 % |

- IEF regressor: back to `nn.Sequential` and a loop over the stages (the hand-written
  forward/backward bought 1.2 % of a step, and made a 6D rotation head or a loss on every stage
  a rewrite of the backward). Same values and dropout draws: the reference-step fixture
  (`tests/training/test_reference_steps.py`, recorded at 713c400) holds to 1e-5.
- Skinning: the coordinate-by-coordinate forward is kept (it is what made skinning cheap), its
  hand-written backward is gone (it bought 0.7 %); autograd differentiates the same forward.
- The numba L_mr kernel keeps its own gradient: it is the loss, not a wrapper around torch ops.

Tried and not kept: running the critic update beside the L_mr search (no faster: both cores
are busy); real, fake and interpolated bodies in one critic call (faster, but then one process
and two processes of the distributed test drift apart beyond its tolerance: the different
batch shapes round differently and Adam's first steps amplify that); in the first round a
3×3-window scatter-min in numpy, one k-d tree for the batch, pykdtree (also a new LGPL
dependency), and one OpenCV thread per DataLoader worker (`cv2.setNumThreads` in a forked
worker deadlocks once the parent has used OpenCV's pool).

## Where the remaining overhead goes

At the `cpu` preset's ResNet-18, 128 px and batch 8 the encoder is small and the method's fixed
costs are not (the parts table above): L_mr, the body model and Adam over 13 M parameters are
the largest parts, then the regressor and the critic. Two threads share L_mr's searches but gain less
than twice in a training step: torch's OpenMP workers keep spinning for a few milliseconds
after each parallel op and take a share of the two cores; shortening that spin
(`GOMP_SPINCOUNT`) slowed torch's own small ops more than it helped (first round). With batch
16 or 32, or at 224 px, the same overhead is a smaller share (the scaling table).
"""


if __name__ == "__main__":
    main()
